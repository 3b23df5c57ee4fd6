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
)
