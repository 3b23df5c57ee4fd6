;; Distance kernels for Shoal, WebAssembly SIMD128 (no relaxed SIMD: Node 20 / V8 11.3 lacks it).
;;
;; Compiled by packages/segment/scripts/build-wasm.mjs with wabt into dist/wasm/kernels.wasm
;; (this import as written) and dist/wasm/kernels-shared.wasm (the same module importing a
;; shared memory: a shared import must declare a maximum, a non-shared one must not, or memories
;; created without a maximum could not be passed in).
;;
;; Conventions
;; - Every pointer is a byte offset into the imported memory. f32 data must be 4-byte aligned,
;;   binary data 8-byte aligned (the JS fallback reads through typed-array views and needs it;
;;   the wasm loads would work unaligned, but both paths accept exactly the same inputs).
;; - `dim` counts elements: f32 or i8 values; for Hamming it counts 64-bit words.
;; - Batch entry points score one query against `count` rows whose indexes are read from a
;;   u32 list at `offsets` (a neighbour list); row i starts at rows + index * stride (bytes), so
;;   rows may carry other data beside the vector. Range entry points score rows first ..
;;   first + count - 1. Both write one f32 per row at out, out + 4, ...
;; - Loops count down remaining elements instead of comparing end pointers, so a row that ends
;;   at the very top of a 4 GiB memory does not wrap.
;; - Scores are raw: dot product, squared L2, L1, int8 dot, differing bits. Callers turn them
;;   into "larger is better" keys.
(module
  (import "env" "memory" (memory 1))

  ;; ---------------------------------------------------------------- f32 dot product
  ;; Four independent accumulators (16 floats per step) so that adds do not wait on each
  ;; other; then whole f32x4 chunks into the first accumulator; then up to 3 scalar values.
  (func $dot_f32 (export "dot_f32") (param $a i32) (param $b i32) (param $dim i32) (result f32)
    (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128)
    (local $n i32) (local $tail f32)
    (local.set $n (i32.shr_u (local.get $dim) (i32.const 4)))
    (if (local.get $n) (then
      (loop $by16
        (local.set $s0 (f32x4.add (local.get $s0)
          (f32x4.mul (v128.load offset=0 (local.get $a)) (v128.load offset=0 (local.get $b)))))
        (local.set $s1 (f32x4.add (local.get $s1)
          (f32x4.mul (v128.load offset=16 (local.get $a)) (v128.load offset=16 (local.get $b)))))
        (local.set $s2 (f32x4.add (local.get $s2)
          (f32x4.mul (v128.load offset=32 (local.get $a)) (v128.load offset=32 (local.get $b)))))
        (local.set $s3 (f32x4.add (local.get $s3)
          (f32x4.mul (v128.load offset=48 (local.get $a)) (v128.load offset=48 (local.get $b)))))
        (local.set $a (i32.add (local.get $a) (i32.const 64)))
        (local.set $b (i32.add (local.get $b) (i32.const 64)))
        (br_if $by16 (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))))
    (local.set $n (i32.and (i32.shr_u (local.get $dim) (i32.const 2)) (i32.const 3)))
    (if (local.get $n) (then
      (loop $by4
        (local.set $s0 (f32x4.add (local.get $s0)
          (f32x4.mul (v128.load (local.get $a)) (v128.load (local.get $b)))))
        (local.set $a (i32.add (local.get $a) (i32.const 16)))
        (local.set $b (i32.add (local.get $b) (i32.const 16)))
        (br_if $by4 (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))))
    (local.set $n (i32.and (local.get $dim) (i32.const 3)))
    (if (local.get $n) (then
      (loop $by1
        (local.set $tail (f32.add (local.get $tail)
          (f32.mul (f32.load (local.get $a)) (f32.load (local.get $b)))))
        (local.set $a (i32.add (local.get $a) (i32.const 4)))
        (local.set $b (i32.add (local.get $b) (i32.const 4)))
        (br_if $by1 (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))))
    ;; The four lanes summed pairwise, (l0 + l1) + (l2 + l3), written out here rather than called:
    ;; V8 does not inline wasm calls, and this runs once per row.
    (local.set $s0 (f32x4.add
      (f32x4.add (local.get $s0) (local.get $s1))
      (f32x4.add (local.get $s2) (local.get $s3))))
    (f32.add
      (f32.add
        (f32.add (f32x4.extract_lane 0 (local.get $s0)) (f32x4.extract_lane 1 (local.get $s0)))
        (f32.add (f32x4.extract_lane 2 (local.get $s0)) (f32x4.extract_lane 3 (local.get $s0))))
      (local.get $tail)))

  ;; ---------------------------------------------------------------- f32 squared L2
  ;; Same shape as the dot product with (a - b)^2 per element; the square root is the caller's,
  ;; taken once per result rather than per candidate.
  (func $l2sq_f32 (export "l2sq_f32") (param $a i32) (param $b i32) (param $dim i32) (result f32)
    (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128)
    (local $d v128) (local $n i32) (local $tail f32) (local $e f32)
    (local.set $n (i32.shr_u (local.get $dim) (i32.const 4)))
    (if (local.get $n) (then
      (loop $by16
        (local.set $d (f32x4.sub (v128.load offset=0 (local.get $a)) (v128.load offset=0 (local.get $b))))
        (local.set $s0 (f32x4.add (local.get $s0) (f32x4.mul (local.get $d) (local.get $d))))
        (local.set $d (f32x4.sub (v128.load offset=16 (local.get $a)) (v128.load offset=16 (local.get $b))))
        (local.set $s1 (f32x4.add (local.get $s1) (f32x4.mul (local.get $d) (local.get $d))))
        (local.set $d (f32x4.sub (v128.load offset=32 (local.get $a)) (v128.load offset=32 (local.get $b))))
        (local.set $s2 (f32x4.add (local.get $s2) (f32x4.mul (local.get $d) (local.get $d))))
        (local.set $d (f32x4.sub (v128.load offset=48 (local.get $a)) (v128.load offset=48 (local.get $b))))
        (local.set $s3 (f32x4.add (local.get $s3) (f32x4.mul (local.get $d) (local.get $d))))
        (local.set $a (i32.add (local.get $a) (i32.const 64)))
        (local.set $b (i32.add (local.get $b) (i32.const 64)))
        (br_if $by16 (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))))
    (local.set $n (i32.and (i32.shr_u (local.get $dim) (i32.const 2)) (i32.const 3)))
    (if (local.get $n) (then
      (loop $by4
        (local.set $d (f32x4.sub (v128.load (local.get $a)) (v128.load (local.get $b))))
        (local.set $s0 (f32x4.add (local.get $s0) (f32x4.mul (local.get $d) (local.get $d))))
        (local.set $a (i32.add (local.get $a) (i32.const 16)))
        (local.set $b (i32.add (local.get $b) (i32.const 16)))
        (br_if $by4 (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))))
    (local.set $n (i32.and (local.get $dim) (i32.const 3)))
    (if (local.get $n) (then
      (loop $by1
        (local.set $e (f32.sub (f32.load (local.get $a)) (f32.load (local.get $b))))
        (local.set $tail (f32.add (local.get $tail) (f32.mul (local.get $e) (local.get $e))))
        (local.set $a (i32.add (local.get $a) (i32.const 4)))
        (local.set $b (i32.add (local.get $b) (i32.const 4)))
        (br_if $by1 (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))))
    ;; The four lanes summed pairwise, (l0 + l1) + (l2 + l3), written out here rather than called:
    ;; V8 does not inline wasm calls, and this runs once per row.
    (local.set $s0 (f32x4.add
      (f32x4.add (local.get $s0) (local.get $s1))
      (f32x4.add (local.get $s2) (local.get $s3))))
    (f32.add
      (f32.add
        (f32.add (f32x4.extract_lane 0 (local.get $s0)) (f32x4.extract_lane 1 (local.get $s0)))
        (f32.add (f32x4.extract_lane 2 (local.get $s0)) (f32x4.extract_lane 3 (local.get $s0))))
      (local.get $tail)))

  ;; ---------------------------------------------------------------- f32 L1
  (func $l1_f32 (export "l1_f32") (param $a i32) (param $b i32) (param $dim i32) (result f32)
    (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128)
    (local $n i32) (local $tail f32)
    (local.set $n (i32.shr_u (local.get $dim) (i32.const 4)))
    (if (local.get $n) (then
      (loop $by16
        (local.set $s0 (f32x4.add (local.get $s0) (f32x4.abs
          (f32x4.sub (v128.load offset=0 (local.get $a)) (v128.load offset=0 (local.get $b))))))
        (local.set $s1 (f32x4.add (local.get $s1) (f32x4.abs
          (f32x4.sub (v128.load offset=16 (local.get $a)) (v128.load offset=16 (local.get $b))))))
        (local.set $s2 (f32x4.add (local.get $s2) (f32x4.abs
          (f32x4.sub (v128.load offset=32 (local.get $a)) (v128.load offset=32 (local.get $b))))))
        (local.set $s3 (f32x4.add (local.get $s3) (f32x4.abs
          (f32x4.sub (v128.load offset=48 (local.get $a)) (v128.load offset=48 (local.get $b))))))
        (local.set $a (i32.add (local.get $a) (i32.const 64)))
        (local.set $b (i32.add (local.get $b) (i32.const 64)))
        (br_if $by16 (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))))
    (local.set $n (i32.and (i32.shr_u (local.get $dim) (i32.const 2)) (i32.const 3)))
    (if (local.get $n) (then
      (loop $by4
        (local.set $s0 (f32x4.add (local.get $s0) (f32x4.abs
          (f32x4.sub (v128.load (local.get $a)) (v128.load (local.get $b))))))
        (local.set $a (i32.add (local.get $a) (i32.const 16)))
        (local.set $b (i32.add (local.get $b) (i32.const 16)))
        (br_if $by4 (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))))
    (local.set $n (i32.and (local.get $dim) (i32.const 3)))
    (if (local.get $n) (then
      (loop $by1
        (local.set $tail (f32.add (local.get $tail) (f32.abs
          (f32.sub (f32.load (local.get $a)) (f32.load (local.get $b))))))
        (local.set $a (i32.add (local.get $a) (i32.const 4)))
        (local.set $b (i32.add (local.get $b) (i32.const 4)))
        (br_if $by1 (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))))
    ;; The four lanes summed pairwise, (l0 + l1) + (l2 + l3), written out here rather than called:
    ;; V8 does not inline wasm calls, and this runs once per row.
    (local.set $s0 (f32x4.add
      (f32x4.add (local.get $s0) (local.get $s1))
      (f32x4.add (local.get $s2) (local.get $s3))))
    (f32.add
      (f32.add
        (f32.add (f32x4.extract_lane 0 (local.get $s0)) (f32x4.extract_lane 1 (local.get $s0)))
        (f32.add (f32x4.extract_lane 2 (local.get $s0)) (f32x4.extract_lane 3 (local.get $s0))))
      (local.get $tail)))

  ;; ---------------------------------------------------------------- int8 dot product
  ;; Signed bytes widened to i16 (extend), multiplied and summed in pairs into i32 lanes by
  ;; i32x4.dot_i16x8_s. Exact: |a*b| <= 2^14, so 65536 dimensions sum to at most 2^30.
  (func $dot_i8 (export "dot_i8") (param $a i32) (param $b i32) (param $dim i32) (result i32)
    (local $s0 v128) (local $s1 v128) (local $va v128) (local $vb v128)
    (local $n i32) (local $tail i32)
    (local.set $n (i32.shr_u (local.get $dim) (i32.const 4)))
    (if (local.get $n) (then
      (loop $by16
        (local.set $va (v128.load (local.get $a)))
        (local.set $vb (v128.load (local.get $b)))
        (local.set $s0 (i32x4.add (local.get $s0) (i32x4.dot_i16x8_s
          (i16x8.extend_low_i8x16_s (local.get $va)) (i16x8.extend_low_i8x16_s (local.get $vb)))))
        (local.set $s1 (i32x4.add (local.get $s1) (i32x4.dot_i16x8_s
          (i16x8.extend_high_i8x16_s (local.get $va)) (i16x8.extend_high_i8x16_s (local.get $vb)))))
        (local.set $a (i32.add (local.get $a) (i32.const 16)))
        (local.set $b (i32.add (local.get $b) (i32.const 16)))
        (br_if $by16 (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))))
    ;; one half chunk of 8 bytes, loaded already widened
    (if (i32.and (local.get $dim) (i32.const 8)) (then
      (local.set $s0 (i32x4.add (local.get $s0) (i32x4.dot_i16x8_s
        (v128.load8x8_s (local.get $a)) (v128.load8x8_s (local.get $b)))))
      (local.set $a (i32.add (local.get $a) (i32.const 8)))
      (local.set $b (i32.add (local.get $b) (i32.const 8)))))
    (local.set $n (i32.and (local.get $dim) (i32.const 7)))
    (if (local.get $n) (then
      (loop $by1
        (local.set $tail (i32.add (local.get $tail)
          (i32.mul (i32.load8_s (local.get $a)) (i32.load8_s (local.get $b)))))
        (local.set $a (i32.add (local.get $a) (i32.const 1)))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (br_if $by1 (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))))
    (local.set $s0 (i32x4.add (local.get $s0) (local.get $s1)))
    (i32.add
      (i32.add
        (i32.add (i32x4.extract_lane 0 (local.get $s0)) (i32x4.extract_lane 1 (local.get $s0)))
        (i32.add (i32x4.extract_lane 2 (local.get $s0)) (i32x4.extract_lane 3 (local.get $s0))))
      (local.get $tail)))

  ;; ---------------------------------------------------------------- binary Hamming distance
  ;; `words` 64-bit words per vector; two accumulators so the popcounts overlap.
  (func $hamming (export "hamming") (param $a i32) (param $b i32) (param $words i32) (result i32)
    (local $s0 i64) (local $s1 i64) (local $n i32)
    (local.set $n (i32.shr_u (local.get $words) (i32.const 1)))
    (if (local.get $n) (then
      (loop $by2
        (local.set $s0 (i64.add (local.get $s0) (i64.popcnt
          (i64.xor (i64.load offset=0 (local.get $a)) (i64.load offset=0 (local.get $b))))))
        (local.set $s1 (i64.add (local.get $s1) (i64.popcnt
          (i64.xor (i64.load offset=8 (local.get $a)) (i64.load offset=8 (local.get $b))))))
        (local.set $a (i32.add (local.get $a) (i32.const 16)))
        (local.set $b (i32.add (local.get $b) (i32.const 16)))
        (br_if $by2 (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))))
    (if (i32.and (local.get $words) (i32.const 1)) (then
      (local.set $s0 (i64.add (local.get $s0) (i64.popcnt
        (i64.xor (i64.load (local.get $a)) (i64.load (local.get $b))))))))
    (i32.wrap_i64 (i64.add (local.get $s0) (local.get $s1))))

  ;; ---------------------------------------------------------------- batch: a neighbour list
  ;; out[i] = kernel(query, rows + offsets[i] * stride, dim) for i < count. One function per
  ;; kernel (not one taking a kernel index) so each loop calls one known function.
  (func (export "dot_f32_batch") (param $q i32) (param $rows i32) (param $dim i32)
        (param $offsets i32) (param $count i32) (param $out i32) (param $stride i32)
    (if (local.get $count) (then
      (loop $next
        (f32.store (local.get $out) (call $dot_f32 (local.get $q)
          (i32.add (local.get $rows) (i32.mul (i32.load (local.get $offsets)) (local.get $stride)))
          (local.get $dim)))
        (local.set $offsets (i32.add (local.get $offsets) (i32.const 4)))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (br_if $next (local.tee $count (i32.sub (local.get $count) (i32.const 1))))))))

  (func (export "l2sq_f32_batch") (param $q i32) (param $rows i32) (param $dim i32)
        (param $offsets i32) (param $count i32) (param $out i32) (param $stride i32)
    (if (local.get $count) (then
      (loop $next
        (f32.store (local.get $out) (call $l2sq_f32 (local.get $q)
          (i32.add (local.get $rows) (i32.mul (i32.load (local.get $offsets)) (local.get $stride)))
          (local.get $dim)))
        (local.set $offsets (i32.add (local.get $offsets) (i32.const 4)))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (br_if $next (local.tee $count (i32.sub (local.get $count) (i32.const 1))))))))

  (func (export "l1_f32_batch") (param $q i32) (param $rows i32) (param $dim i32)
        (param $offsets i32) (param $count i32) (param $out i32) (param $stride i32)
    (if (local.get $count) (then
      (loop $next
        (f32.store (local.get $out) (call $l1_f32 (local.get $q)
          (i32.add (local.get $rows) (i32.mul (i32.load (local.get $offsets)) (local.get $stride)))
          (local.get $dim)))
        (local.set $offsets (i32.add (local.get $offsets) (i32.const 4)))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (br_if $next (local.tee $count (i32.sub (local.get $count) (i32.const 1))))))))

  (func (export "dot_i8_batch") (param $q i32) (param $rows i32) (param $dim i32)
        (param $offsets i32) (param $count i32) (param $out i32) (param $stride i32)
    (if (local.get $count) (then
      (loop $next
        (f32.store (local.get $out) (f32.convert_i32_s (call $dot_i8 (local.get $q)
          (i32.add (local.get $rows) (i32.mul (i32.load (local.get $offsets)) (local.get $stride)))
          (local.get $dim))))
        (local.set $offsets (i32.add (local.get $offsets) (i32.const 4)))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (br_if $next (local.tee $count (i32.sub (local.get $count) (i32.const 1))))))))

  ;; Hamming's body is written out inside its batch and range loops instead of called: at 128
  ;; bits the call and the accumulator setup cost more than the two popcounts (measured ~2x).
  (func (export "hamming_batch") (param $q i32) (param $rows i32) (param $words i32)
        (param $offsets i32) (param $count i32) (param $out i32) (param $stride i32)
    (local $a i32) (local $b i32) (local $n i32) (local $s0 i64) (local $s1 i64)
    (if (local.get $count) (then
      (loop $next
        (local.set $a (local.get $q))
        (local.set $b (i32.add (local.get $rows) (i32.mul (i32.load (local.get $offsets)) (local.get $stride))))
        (local.set $s0 (i64.const 0))
        (local.set $s1 (i64.const 0))
        (local.set $n (i32.shr_u (local.get $words) (i32.const 1)))
        (if (local.get $n) (then
          (loop $by2
            (local.set $s0 (i64.add (local.get $s0) (i64.popcnt
              (i64.xor (i64.load offset=0 (local.get $a)) (i64.load offset=0 (local.get $b))))))
            (local.set $s1 (i64.add (local.get $s1) (i64.popcnt
              (i64.xor (i64.load offset=8 (local.get $a)) (i64.load offset=8 (local.get $b))))))
            (local.set $a (i32.add (local.get $a) (i32.const 16)))
            (local.set $b (i32.add (local.get $b) (i32.const 16)))
            (br_if $by2 (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))))
        (if (i32.and (local.get $words) (i32.const 1)) (then
          (local.set $s0 (i64.add (local.get $s0) (i64.popcnt
            (i64.xor (i64.load (local.get $a)) (i64.load (local.get $b))))))))
        (f32.store (local.get $out) (f32.convert_i64_u (i64.add (local.get $s0) (local.get $s1))))
        (local.set $offsets (i32.add (local.get $offsets) (i32.const 4)))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (br_if $next (local.tee $count (i32.sub (local.get $count) (i32.const 1))))))))

  ;; ---------------------------------------------------------------- range: an exact scan
  ;; out[i] = kernel(query, rows + (first + i) * stride, dim) for i < count.
  (func (export "dot_f32_range") (param $q i32) (param $rows i32) (param $dim i32)
        (param $first i32) (param $count i32) (param $out i32) (param $stride i32)
    (local $row i32)
    (local.set $row (i32.add (local.get $rows) (i32.mul (local.get $first) (local.get $stride))))
    (if (local.get $count) (then
      (loop $next
        (f32.store (local.get $out) (call $dot_f32 (local.get $q) (local.get $row) (local.get $dim)))
        (local.set $row (i32.add (local.get $row) (local.get $stride)))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (br_if $next (local.tee $count (i32.sub (local.get $count) (i32.const 1))))))))

  (func (export "l2sq_f32_range") (param $q i32) (param $rows i32) (param $dim i32)
        (param $first i32) (param $count i32) (param $out i32) (param $stride i32)
    (local $row i32)
    (local.set $row (i32.add (local.get $rows) (i32.mul (local.get $first) (local.get $stride))))
    (if (local.get $count) (then
      (loop $next
        (f32.store (local.get $out) (call $l2sq_f32 (local.get $q) (local.get $row) (local.get $dim)))
        (local.set $row (i32.add (local.get $row) (local.get $stride)))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (br_if $next (local.tee $count (i32.sub (local.get $count) (i32.const 1))))))))

  (func (export "l1_f32_range") (param $q i32) (param $rows i32) (param $dim i32)
        (param $first i32) (param $count i32) (param $out i32) (param $stride i32)
    (local $row i32)
    (local.set $row (i32.add (local.get $rows) (i32.mul (local.get $first) (local.get $stride))))
    (if (local.get $count) (then
      (loop $next
        (f32.store (local.get $out) (call $l1_f32 (local.get $q) (local.get $row) (local.get $dim)))
        (local.set $row (i32.add (local.get $row) (local.get $stride)))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (br_if $next (local.tee $count (i32.sub (local.get $count) (i32.const 1))))))))

  (func (export "dot_i8_range") (param $q i32) (param $rows i32) (param $dim i32)
        (param $first i32) (param $count i32) (param $out i32) (param $stride i32)
    (local $row i32)
    (local.set $row (i32.add (local.get $rows) (i32.mul (local.get $first) (local.get $stride))))
    (if (local.get $count) (then
      (loop $next
        (f32.store (local.get $out)
          (f32.convert_i32_s (call $dot_i8 (local.get $q) (local.get $row) (local.get $dim))))
        (local.set $row (i32.add (local.get $row) (local.get $stride)))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (br_if $next (local.tee $count (i32.sub (local.get $count) (i32.const 1))))))))

  (func (export "hamming_range") (param $q i32) (param $rows i32) (param $words i32)
        (param $first i32) (param $count i32) (param $out i32) (param $stride i32)
    (local $row i32) (local $a i32) (local $b i32) (local $n i32) (local $s0 i64) (local $s1 i64)
    (local.set $row (i32.add (local.get $rows) (i32.mul (local.get $first) (local.get $stride))))
    (if (local.get $count) (then
      (loop $next
        (local.set $a (local.get $q))
        (local.set $b (local.get $row))
        (local.set $s0 (i64.const 0))
        (local.set $s1 (i64.const 0))
        (local.set $n (i32.shr_u (local.get $words) (i32.const 1)))
        (if (local.get $n) (then
          (loop $by2
            (local.set $s0 (i64.add (local.get $s0) (i64.popcnt
              (i64.xor (i64.load offset=0 (local.get $a)) (i64.load offset=0 (local.get $b))))))
            (local.set $s1 (i64.add (local.get $s1) (i64.popcnt
              (i64.xor (i64.load offset=8 (local.get $a)) (i64.load offset=8 (local.get $b))))))
            (local.set $a (i32.add (local.get $a) (i32.const 16)))
            (local.set $b (i32.add (local.get $b) (i32.const 16)))
            (br_if $by2 (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))))
        (if (i32.and (local.get $words) (i32.const 1)) (then
          (local.set $s0 (i64.add (local.get $s0) (i64.popcnt
            (i64.xor (i64.load (local.get $a)) (i64.load (local.get $b))))))))
        (f32.store (local.get $out) (f32.convert_i64_u (i64.add (local.get $s0) (local.get $s1))))
        (local.set $row (i32.add (local.get $row) (local.get $stride)))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (br_if $next (local.tee $count (i32.sub (local.get $count) (i32.const 1))))))))

  ;; ---------------------------------------------------------------- product quantization
  ;; pq_assign(points, pstride, n, len, ct, k4, out, ostride): for each of n points of `len` f32
  ;; (point i at points + i * pstride) writes at out + i * ostride the u8 index of the nearest
  ;; centroid by squared L2, ties to the smaller index. Centroids are transposed, four at a time
  ;; in lanes: ct holds, for each dimension j, k4 f32 (k4 = centroids rounded up to 4, the lanes
  ;; past the last centroid hold a huge value so that they never win): one f32x4 step scores one
  ;; dimension of four centroids, so no lanes are summed across (dense/product.ts builds ct).
  (func (export "pq_assign") (param $points i32) (param $pstride i32) (param $n i32) (param $len i32)
        (param $ct i32) (param $k4 i32) (param $out i32) (param $ostride i32)
    (local $g i32) (local $j i32) (local $x i32) (local $c i32) (local $row i32)
    (local $acc v128) (local $d v128) (local $best v128) (local $bestIdx v128) (local $idx v128) (local $lt v128)
    (local $m f32) (local $mi i32) (local $v f32) (local $vi i32)
    (local.set $row (i32.shl (local.get $k4) (i32.const 2)))
    (block $points_done
      (loop $point
        (br_if $points_done (i32.eqz (local.get $n)))
        (local.set $best (f32x4.splat (f32.const inf)))
        (local.set $bestIdx (i32x4.splat (i32.const 0)))
        (local.set $idx (v128.const i32x4 0 1 2 3))
        (local.set $g (i32.const 0))
        (block $groups_done
          (loop $group
            (br_if $groups_done (i32.ge_u (local.get $g) (local.get $k4)))
            (local.set $acc (f32x4.splat (f32.const 0)))
            (local.set $x (local.get $points))
            (local.set $c (i32.add (local.get $ct) (i32.shl (local.get $g) (i32.const 2))))
            (local.set $j (local.get $len))
            (loop $dims
              (local.set $d (f32x4.sub (f32x4.splat (f32.load (local.get $x))) (v128.load (local.get $c))))
              (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul (local.get $d) (local.get $d))))
              (local.set $x (i32.add (local.get $x) (i32.const 4)))
              (local.set $c (i32.add (local.get $c) (local.get $row)))
              (br_if $dims (local.tee $j (i32.sub (local.get $j) (i32.const 1)))))
            (local.set $lt (f32x4.lt (local.get $acc) (local.get $best)))
            (local.set $best (v128.bitselect (local.get $acc) (local.get $best) (local.get $lt)))
            (local.set $bestIdx (v128.bitselect (local.get $idx) (local.get $bestIdx) (local.get $lt)))
            (local.set $idx (i32x4.add (local.get $idx) (i32x4.splat (i32.const 4))))
            (local.set $g (i32.add (local.get $g) (i32.const 4)))
            (br $group)))
        ;; The best of the four lanes: the smallest distance, then the smallest index.
        (local.set $m (f32x4.extract_lane 0 (local.get $best)))
        (local.set $mi (i32x4.extract_lane 0 (local.get $bestIdx)))
        (local.set $v (f32x4.extract_lane 1 (local.get $best)))
        (local.set $vi (i32x4.extract_lane 1 (local.get $bestIdx)))
        (if (i32.or (f32.lt (local.get $v) (local.get $m))
                    (i32.and (f32.eq (local.get $v) (local.get $m)) (i32.lt_u (local.get $vi) (local.get $mi))))
          (then (local.set $m (local.get $v)) (local.set $mi (local.get $vi))))
        (local.set $v (f32x4.extract_lane 2 (local.get $best)))
        (local.set $vi (i32x4.extract_lane 2 (local.get $bestIdx)))
        (if (i32.or (f32.lt (local.get $v) (local.get $m))
                    (i32.and (f32.eq (local.get $v) (local.get $m)) (i32.lt_u (local.get $vi) (local.get $mi))))
          (then (local.set $m (local.get $v)) (local.set $mi (local.get $vi))))
        (local.set $v (f32x4.extract_lane 3 (local.get $best)))
        (local.set $vi (i32x4.extract_lane 3 (local.get $bestIdx)))
        (if (i32.or (f32.lt (local.get $v) (local.get $m))
                    (i32.and (f32.eq (local.get $v) (local.get $m)) (i32.lt_u (local.get $vi) (local.get $mi))))
          (then (local.set $m (local.get $v)) (local.set $mi (local.get $vi))))
        (i32.store8 (local.get $out) (local.get $mi))
        (local.set $points (i32.add (local.get $points) (local.get $pstride)))
        (local.set $out (i32.add (local.get $out) (local.get $ostride)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $point))))

  ;; pq_table(q, book, dim, subdim, metric, out): a query's product-quantization lookup table.
  ;; The codebook is stored transposed per sub-vector (sub-vector s at float s * 256 * subdim:
  ;; for each of its dimensions j, 256 f32, centroid c's value at j * 256 + c), so one f32x4 step
  ;; adds one dimension's term for four centroids. out gets, for sub-vector s, 256 f32 at
  ;; s * 256: the partial keys, larger is better: dot q_s.c (metric 0), -|q_s - c|^2 (1),
  ;; -|q_s - c|_1 (2).
  (func (export "pq_table") (param $q i32) (param $book i32) (param $dim i32) (param $subdim i32)
        (param $metric i32) (param $out i32)
    (local $left i32) (local $len i32) (local $g i32) (local $j i32) (local $x i32) (local $c i32)
    (local $acc v128) (local $d v128) (local $block i32)
    (local.set $left (local.get $dim))
    (local.set $block (i32.shl (local.get $subdim) (i32.const 10)))
    (block $done
      (loop $sub
        (br_if $done (i32.eqz (local.get $left)))
        (local.set $len (select (local.get $subdim) (local.get $left) (i32.lt_u (local.get $subdim) (local.get $left))))
        (local.set $g (i32.const 0))
        (loop $group
          (local.set $acc (f32x4.splat (f32.const 0)))
          (local.set $x (local.get $q))
          (local.set $c (i32.add (local.get $book) (i32.shl (local.get $g) (i32.const 2))))
          (local.set $j (local.get $len))
          (loop $dims
            (local.set $d (f32x4.splat (f32.load (local.get $x))))
            (if (i32.eqz (local.get $metric))
              (then (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul (local.get $d) (v128.load (local.get $c))))))
              (else
                (local.set $d (f32x4.sub (local.get $d) (v128.load (local.get $c))))
                (if (i32.eq (local.get $metric) (i32.const 1))
                  (then (local.set $acc (f32x4.sub (local.get $acc) (f32x4.mul (local.get $d) (local.get $d)))))
                  (else (local.set $acc (f32x4.sub (local.get $acc) (f32x4.abs (local.get $d))))))))
            (local.set $x (i32.add (local.get $x) (i32.const 4)))
            (local.set $c (i32.add (local.get $c) (i32.const 1024)))
            (br_if $dims (local.tee $j (i32.sub (local.get $j) (i32.const 1)))))
          (v128.store (i32.add (local.get $out) (i32.shl (local.get $g) (i32.const 2))) (local.get $acc))
          (br_if $group (i32.lt_u (local.tee $g (i32.add (local.get $g) (i32.const 4))) (i32.const 256))))
        (local.set $q (i32.add (local.get $q) (i32.shl (local.get $len) (i32.const 2))))
        (local.set $book (i32.add (local.get $book) (local.get $block)))
        (local.set $out (i32.add (local.get $out) (i32.const 1024)))
        (local.set $left (i32.sub (local.get $left) (local.get $len)))
        (br $sub))))
)
