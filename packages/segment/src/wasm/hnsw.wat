;; HNSW search and construction over a dense index's memory, hand-written. Not a module by
;; itself: scripts/build-wasm.mjs splices these fields into kernels.wat's module, so the search
;; calls the very kernels the exact scans use ($dot_f32, $l2sq_f32, ...) and its keys agree with
;; theirs bit for bit.
;;
;; One call runs one whole query (greedy descent on the upper levels, the ef search on level 0,
;; rescoring), an exact scan, or the insertion of a range of nodes. Its parameters and scratch
;; sit in a context block at the start of the caller's scratch region (dense/layout.ts and
;; dense/wasm-engine.ts name the offsets); the visited stamps and both heaps are in that region
;; too, so a search allocates nothing and crosses from JS into wasm once.
;;
;; Memory layout read here (dense/layout.ts): records of `recordBytes`, each
;;   u32 link count | level-0 links (u32) | payload (f32 row, or f32 correction + int8 code)
;; upper levels as blocks of (1 + m) u32 per node and level at upper + 4 * upperStart[id];
;; levels as u8. Keys are larger-is-better: dot, -squared L2, -L1; int8 kinds estimate them
;; from codes (dense/quantize.ts): dot: qa * (cq.cx) + corr + qb, l2: 2 qa (cq.cx) - qb - corr,
;; l1: -qa |cq - cx|_1, where corr is the f32 stored right before each code.

  ;; ------------------------------------------------------------ context block offsets (bytes)
  ;;   0 kind         traversal key: 0 dot f32, 1 l2 f32, 2 l1 f32, 3 dot i8, 4 l2 i8, 5 l1 i8
  ;;   4 dim          8 vec (traversal vectors: payload of id 0)   12 vstride (bytes per vector)
  ;;  16 records     20 recordBytes   24 upper   28 upperStart   32 ublock (bytes per upper block)
  ;;  36 visited     40 epoch (kept across calls)   44 cand heap   48 result heap
  ;;  52 ids list    56 scores list   60 outIds   64 outKeys   68 allowed bits (0: none)
  ;;  72 deleted bits (0: none)   76 qa (f32)   80 qb (f32)   84 query (f32)   88 query code
  ;;  92 entry       96 maxLevel   100 ef   104 want (traversal results kept)   108 k (returned)
  ;; 112 rescore (0/1)   116 rescore kind (0..2)   120 rows (f32)   124 rowStride
  ;; 128 evaluations (out)   132 count   136 levels   140 m   144 efConstruct
  ;; 148 tback (bytes of each node's record before its traversal vector that $touch reads too)
  ;; 192 vbytes (bytes of one code)   196 cunits (binary words / product sub-vectors per code)
  ;; 200 qc (f32, binary)
  ;; 152 extra starts (u32 per node + 1; 0: no extra links)   156 extra link pool
  ;; 160 strict (0/1: once a result is found, filtered searches score only allowed nodes)

  (global $g_kind (mut i32) (i32.const 0))
  (global $g_dim (mut i32) (i32.const 0))
  (global $g_vec (mut i32) (i32.const 0))
  (global $g_vstride (mut i32) (i32.const 0))
  (global $g_rec (mut i32) (i32.const 0))
  (global $g_rbytes (mut i32) (i32.const 0))
  (global $g_upper (mut i32) (i32.const 0))
  (global $g_ustart (mut i32) (i32.const 0))
  (global $g_ublock (mut i32) (i32.const 0))
  (global $g_visited (mut i32) (i32.const 0))
  (global $g_cand (mut i32) (i32.const 0))
  (global $g_res (mut i32) (i32.const 0))
  (global $g_ids (mut i32) (i32.const 0))
  (global $g_allowed (mut i32) (i32.const 0))
  (global $g_deleted (mut i32) (i32.const 0))
  (global $g_qa (mut f32) (f32.const 0))
  (global $g_qb (mut f32) (f32.const 0))
  ;; Code kinds: bytes of one code ($touch), elements the code kernels walk (binary words,
  ;; product sub-vectors), and the third query constant (binary).
  (global $g_vbytes (mut i32) (i32.const 0))
  (global $g_cunits (mut i32) (i32.const 0))
  (global $g_qc (mut f32) (f32.const 0))
  (global $g_evals (mut i32) (i32.const 0))
  (global $g_best (mut f32) (f32.const 0))
  (global $g_epoch (mut i32) (i32.const 0))
  ;; What $touch reads of each node: from $g_tback bytes before its traversal vector (the start
  ;; of its record, when traversing records: its links come along) for $g_tbytes bytes.
  (global $g_tback (mut i32) (i32.const 0))
  (global $g_tbytes (mut i32) (i32.const 0))
  ;; Where touched bytes go, so that the loads are not optimised away.
  (global $g_sink (mut i32) (i32.const 0))
  ;; Extra level-0 links of filtered searches (payload_m subset graphs): starts and pool, 0: none.
  (global $g_xstart (mut i32) (i32.const 0))
  (global $g_xpool (mut i32) (i32.const 0))
  (global $g_strict (mut i32) (i32.const 0))

  (func $load_ctx (param $c i32)
    (global.set $g_kind (i32.load offset=0 (local.get $c)))
    (global.set $g_dim (i32.load offset=4 (local.get $c)))
    (global.set $g_vec (i32.load offset=8 (local.get $c)))
    (global.set $g_vstride (i32.load offset=12 (local.get $c)))
    (global.set $g_rec (i32.load offset=16 (local.get $c)))
    (global.set $g_rbytes (i32.load offset=20 (local.get $c)))
    (global.set $g_upper (i32.load offset=24 (local.get $c)))
    (global.set $g_ustart (i32.load offset=28 (local.get $c)))
    (global.set $g_ublock (i32.load offset=32 (local.get $c)))
    (global.set $g_visited (i32.load offset=36 (local.get $c)))
    (global.set $g_cand (i32.load offset=44 (local.get $c)))
    (global.set $g_res (i32.load offset=48 (local.get $c)))
    (global.set $g_ids (i32.load offset=52 (local.get $c)))
    (global.set $g_allowed (i32.load offset=68 (local.get $c)))
    (global.set $g_deleted (i32.load offset=72 (local.get $c)))
    (global.set $g_qa (f32.load offset=76 (local.get $c)))
    (global.set $g_qb (f32.load offset=80 (local.get $c)))
    (global.set $g_vbytes (i32.load offset=192 (local.get $c)))
    (global.set $g_cunits (i32.load offset=196 (local.get $c)))
    (global.set $g_qc (f32.load offset=200 (local.get $c)))
    (call $set_tbytes (i32.load offset=148 (local.get $c)))
    (global.set $g_xstart (i32.load offset=152 (local.get $c)))
    (global.set $g_xpool (i32.load offset=156 (local.get $c)))
    (global.set $g_strict (i32.load offset=160 (local.get $c)))
    (global.set $g_evals (i32.const 0)))

  (func $set_tbytes (param $back i32)
    (global.set $g_tback (local.get $back))
    (global.set $g_tbytes (i32.add (local.get $back) (if (result i32) (i32.ge_u (global.get $g_kind) (i32.const 3))
      (then (global.get $g_vbytes))
      (else (i32.shl (global.get $g_dim) (i32.const 2)))))))

  ;; Reads one byte of every cache line of the vectors of ids[0..k), and returns them xor-ed.
  ;; WebAssembly has no prefetch instruction: these loads stand in for one. They are independent,
  ;; so their misses overlap, and the scoring that follows finds the vectors in cache instead of
  ;; waiting for each row in turn.
  (func $touch (param $ids i32) (param $k i32) (result i32)
    (local $p i32) (local $end i32) (local $sink i32) (local $back i32)
    (local.set $back (global.get $g_tback))
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $k)))
        (local.set $p (i32.sub
          (i32.add (global.get $g_vec) (i32.mul (i32.load (local.get $ids)) (global.get $g_vstride)))
          (local.get $back)))
        (local.set $end (i32.add (local.get $p) (global.get $g_tbytes)))
        (local.set $sink (i32.xor (local.get $sink) (i32.load8_u (i32.sub (local.get $end) (i32.const 1)))))
        (loop $line
          (local.set $sink (i32.xor (local.get $sink) (i32.load8_u (local.get $p))))
          (local.set $p (i32.add (local.get $p) (i32.const 64)))
          (br_if $line (i32.lt_u (local.get $p) (local.get $end))))
        (local.set $ids (i32.add (local.get $ids) (i32.const 4)))
        (local.set $k (i32.sub (local.get $k) (i32.const 1)))
        (br $next)))
    (local.get $sink))

  ;; ------------------------------------------------------------ int8 L1 distance
  ;; |a - b| per byte, widened to i16 (the difference of two int8 codes needs 9 bits), summed in
  ;; pairs into i32 lanes. Exact for any dim this engine accepts (254 * 65536 < 2^31).
  (func $l1_i8 (export "l1_i8") (param $a i32) (param $b i32) (param $dim i32) (result i32)
    (local $s0 v128) (local $s1 v128) (local $va v128) (local $vb v128) (local $n i32) (local $tail i32)
    (local.set $n (i32.shr_u (local.get $dim) (i32.const 4)))
    (if (local.get $n) (then
      (loop $by16
        (local.set $va (v128.load (local.get $a)))
        (local.set $vb (v128.load (local.get $b)))
        (local.set $s0 (i32x4.add (local.get $s0) (i32x4.extadd_pairwise_i16x8_s (i16x8.abs (i16x8.sub
          (i16x8.extend_low_i8x16_s (local.get $va)) (i16x8.extend_low_i8x16_s (local.get $vb)))))))
        (local.set $s1 (i32x4.add (local.get $s1) (i32x4.extadd_pairwise_i16x8_s (i16x8.abs (i16x8.sub
          (i16x8.extend_high_i8x16_s (local.get $va)) (i16x8.extend_high_i8x16_s (local.get $vb)))))))
        (local.set $a (i32.add (local.get $a) (i32.const 16)))
        (local.set $b (i32.add (local.get $b) (i32.const 16)))
        (br_if $by16 (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))))
    (local.set $n (i32.and (local.get $dim) (i32.const 15)))
    (if (local.get $n) (then
      (loop $by1
        (local.set $tail (i32.add (local.get $tail) (call $abs_i32
          (i32.sub (i32.load8_s (local.get $a)) (i32.load8_s (local.get $b))))))
        (local.set $a (i32.add (local.get $a) (i32.const 1)))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (br_if $by1 (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))))
    (local.set $s0 (i32x4.add (local.get $s0) (local.get $s1)))
    (i32.add
      (i32.add
        (i32.add (i32x4.extract_lane 0 (local.get $s0)) (i32x4.extract_lane 1 (local.get $s0)))
        (i32.add (i32x4.extract_lane 2 (local.get $s0)) (i32x4.extract_lane 3 (local.get $s0))))
      (local.get $tail)))

  (func $abs_i32 (param $x i32) (result i32)
    (select (i32.sub (i32.const 0) (local.get $x)) (local.get $x) (i32.lt_s (local.get $x) (i32.const 0))))

  ;; ------------------------------------------------------------ the key of one node
  ;; Key of node $id against the vector at $q (a query, or another node's vector while building),
  ;; by the current kind. One branch table per call: the kind never changes within a query, so
  ;; the branch is always predicted.
  (func $key (param $q i32) (param $id i32) (result f32)
    (local $v i32)
    (local.set $v (i32.add (global.get $g_vec) (i32.mul (local.get $id) (global.get $g_vstride))))
    (block $kp (block $kb (block $k5 (block $k4 (block $k3 (block $k2 (block $k1 (block $k0
      (br_table $k0 $k1 $k2 $k3 $k4 $k5 $kb $kb $kb $kp (global.get $g_kind)))
      (return (call $dot_f32 (local.get $q) (local.get $v) (global.get $g_dim))))
      (return (f32.neg (call $l2sq_f32 (local.get $q) (local.get $v) (global.get $g_dim)))))
      (return (f32.neg (call $l1_f32 (local.get $q) (local.get $v) (global.get $g_dim)))))
      (return (f32.add
        (f32.add
          (f32.mul (global.get $g_qa) (f32.convert_i32_s (call $dot_i8 (local.get $q) (local.get $v) (global.get $g_dim))))
          (f32.load (i32.sub (local.get $v) (i32.const 4))))
        (global.get $g_qb))))
      (return (f32.sub
        (f32.sub
          (f32.mul (f32.add (global.get $g_qa) (global.get $g_qa))
            (f32.convert_i32_s (call $dot_i8 (local.get $q) (local.get $v) (global.get $g_dim))))
          (global.get $g_qb))
        (f32.load (i32.sub (local.get $v) (i32.const 4))))))
      (return (f32.neg (f32.mul (global.get $g_qa)
        (f32.convert_i32_s (call $l1_i8 (local.get $q) (local.get $v) (global.get $g_dim)))))))
      (return (call $binary_key (local.get $q) (local.get $v))))
    (call $product_key (local.get $q) (local.get $v)))

  ;; Binary kinds (dense/binary.ts): h = Hamming distance of the codes, corr = |x| (the f32
  ;; before the code); dot: qa corr (qb - h); l2: -(qc + corr^2 - 2 qa corr (qb - h)); l1: the
  ;; l2 estimate's root times sqrt(2 dim / pi).
  (func $binary_key (param $q i32) (param $v i32) (result f32)
    (local $corr f32) (local $s f32) (local $l2 f32)
    (local.set $corr (f32.load (i32.sub (local.get $v) (i32.const 4))))
    (local.set $s (f32.mul (f32.mul (global.get $g_qa) (local.get $corr))
      (f32.sub (global.get $g_qb) (f32.convert_i32_u (call $hamming (local.get $q) (local.get $v) (global.get $g_cunits))))))
    (if (i32.eq (global.get $g_kind) (i32.const 6)) (then (return (local.get $s))))
    (local.set $l2 (f32.sub (f32.add (global.get $g_qc) (f32.mul (local.get $corr) (local.get $corr)))
      (f32.add (local.get $s) (local.get $s))))
    (if (i32.eq (global.get $g_kind) (i32.const 7)) (then (return (f32.neg (local.get $l2)))))
    (f32.neg (f32.mul
      (f32.sqrt (f32.mul (f32.convert_i32_u (global.get $g_dim)) (f32.const 0.6366197466850281)))
      (f32.sqrt (f32.max (f32.const 0) (local.get $l2))))))

  ;; Product kinds (dense/product.ts): $t is the query's lookup table (256 f32 per sub-vector),
  ;; $v the code (one byte per sub-vector); the key is the sum of the entries the code picks,
  ;; in four running sums (sub-vectors 4i, 4i+1, 4i+2, 4i+3; the rest into the first),
  ;; (s0 + s1) + (s2 + s3), plus the row's correction.
  (func $product_key (param $t i32) (param $v i32) (result f32)
    (local $n i32) (local $p i32) (local $s0 f32) (local $s1 f32) (local $s2 f32) (local $s3 f32)
    (local.set $p (local.get $v))
    (local.set $n (i32.shr_u (global.get $g_cunits) (i32.const 2)))
    (if (local.get $n) (then
      (loop $by4
        (local.set $s0 (f32.add (local.get $s0) (f32.load offset=0
          (i32.add (local.get $t) (i32.shl (i32.load8_u offset=0 (local.get $p)) (i32.const 2))))))
        (local.set $s1 (f32.add (local.get $s1) (f32.load offset=1024
          (i32.add (local.get $t) (i32.shl (i32.load8_u offset=1 (local.get $p)) (i32.const 2))))))
        (local.set $s2 (f32.add (local.get $s2) (f32.load offset=2048
          (i32.add (local.get $t) (i32.shl (i32.load8_u offset=2 (local.get $p)) (i32.const 2))))))
        (local.set $s3 (f32.add (local.get $s3) (f32.load offset=3072
          (i32.add (local.get $t) (i32.shl (i32.load8_u offset=3 (local.get $p)) (i32.const 2))))))
        (local.set $t (i32.add (local.get $t) (i32.const 4096)))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))
        (br_if $by4 (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))))
    (local.set $n (i32.and (global.get $g_cunits) (i32.const 3)))
    (if (local.get $n) (then
      (loop $by1
        (local.set $s0 (f32.add (local.get $s0) (f32.load
          (i32.add (local.get $t) (i32.shl (i32.load8_u (local.get $p)) (i32.const 2))))))
        (local.set $t (i32.add (local.get $t) (i32.const 1024)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br_if $by1 (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))))
    (f32.add
      (f32.add (f32.add (local.get $s0) (local.get $s1)) (f32.add (local.get $s2) (local.get $s3)))
      (f32.load (i32.sub (local.get $v) (i32.const 4)))))

  ;; ------------------------------------------------------------ links
  ;; Address of node $id's link count on $level (its links follow).
  (func $links (param $id i32) (param $level i32) (result i32)
    (if (result i32) (i32.eqz (local.get $level))
      (then (i32.add (global.get $g_rec) (i32.mul (local.get $id) (global.get $g_rbytes))))
      (else (i32.add
        (i32.add (global.get $g_upper)
          (i32.shl (i32.load (i32.add (global.get $g_ustart) (i32.shl (local.get $id) (i32.const 2)))) (i32.const 2)))
        (i32.mul (i32.sub (local.get $level) (i32.const 1)) (global.get $g_ublock))))))

  ;; ------------------------------------------------------------ filters
  ;; Whether $id may be returned: its bit is set in `allowed` (when given) and clear in
  ;; `deleted` (when given).
  (func $acceptable (param $id i32) (result i32)
    (local $byte i32)
    (local.set $byte (i32.shr_u (local.get $id) (i32.const 3)))
    (if (global.get $g_allowed) (then
      (if (i32.eqz (i32.and (i32.load8_u (i32.add (global.get $g_allowed) (local.get $byte)))
                            (i32.shl (i32.const 1) (i32.and (local.get $id) (i32.const 7)))))
        (then (return (i32.const 0))))))
    (if (global.get $g_deleted) (then
      (if (i32.and (i32.load8_u (i32.add (global.get $g_deleted) (local.get $byte)))
                   (i32.shl (i32.const 1) (i32.and (local.get $id) (i32.const 7))))
        (then (return (i32.const 0))))))
    (i32.const 1))

  ;; Whether $id is in `allowed` (set or absent); tombstones are not looked at.
  (func $allowed_bit (param $id i32) (result i32)
    (if (result i32) (global.get $g_allowed)
      (then (i32.and (i32.shr_u (i32.load8_u (i32.add (global.get $g_allowed) (i32.shr_u (local.get $id) (i32.const 3))))
                                (i32.and (local.get $id) (i32.const 7)))
                     (i32.const 1)))
      (else (i32.const 1))))

  ;; Appends the $n links at $lp that are not visited yet to the list at $ids (holding $k),
  ;; marking them; returns the new length.
  (func $gather (param $lp i32) (param $n i32) (param $ids i32) (param $k i32) (result i32)
    (local $v i32) (local $sa i32) (local $visited i32) (local $epoch i32)
    (local.set $visited (global.get $g_visited))
    (local.set $epoch (global.get $g_epoch))
    (block $gathered
      (loop $gather
        (br_if $gathered (i32.eqz (local.get $n)))
        (local.set $v (i32.load (local.get $lp)))
        (local.set $sa (i32.add (local.get $visited) (i32.shl (local.get $v) (i32.const 1))))
        (if (i32.ne (i32.load16_u (local.get $sa)) (local.get $epoch)) (then
          (i32.store16 (local.get $sa) (local.get $epoch))
          (i32.store (i32.add (local.get $ids) (i32.shl (local.get $k) (i32.const 2))) (local.get $v))
          (local.set $k (i32.add (local.get $k) (i32.const 1)))))
        (local.set $lp (i32.add (local.get $lp) (i32.const 4)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $gather)))
    (local.get $k))

  ;; ------------------------------------------------------------ heaps
  ;; Binary min-heaps of i64 entries at $h. An entry packs (key, id) so that unsigned integer
  ;; order is the ranking: the high word is the f32 key mapped to an order-preserving u32
  ;; (negative floats flip every bit, others flip the sign bit; -0 is first made +0), the low
  ;; word is 2^31 - 1 - id, shifted left by one. The top is the worst entry: the smallest key, and among equal keys
  ;; the largest id, so results never depend on the order in which equal keys arrive. One
  ;; integer compare per step instead of two float compares and an id compare. Candidates are
  ;; kept with negated keys (best on top).

  (func $entry (param $key f32) (param $id i32) (result i64)
    (local $b i32)
    (local.set $b (i32.reinterpret_f32 (f32.add (local.get $key) (f32.const 0))))
    (local.set $b (i32.xor (local.get $b)
      (i32.or (i32.shr_s (local.get $b) (i32.const 31)) (i32.const 0x80000000))))
    (i64.or (i64.shl (i64.extend_i32_u (local.get $b)) (i64.const 32))
      (i64.extend_i32_u (i32.shl (i32.sub (i32.const 0x7fffffff) (local.get $id)) (i32.const 1)))))

  (func $entry_key (param $e i64) (result f32)
    (local $b i32)
    (local.set $b (i32.wrap_i64 (i64.shr_u (local.get $e) (i64.const 32))))
    (f32.reinterpret_i32 (i32.xor (local.get $b)
      (i32.or (i32.xor (i32.shr_s (local.get $b) (i32.const 31)) (i32.const -1)) (i32.const 0x80000000)))))

  ;; Bit 0 of an entry is free (the pool marks expanded nodes with it): ids are below 2^31.
  (func $entry_id (param $e i64) (result i32)
    (i32.sub (i32.const 0x7fffffff) (i32.shr_u (i32.wrap_i64 (local.get $e)) (i32.const 1))))

  ;; Adds entry $e to a heap of $n entries.
  (func $heap_push (param $h i32) (param $n i32) (param $e i64)
    (local $i i32) (local $p i32) (local $pe i64)
    (local.set $i (local.get $n))
    (block $done
      (loop $up
        (br_if $done (i32.eqz (local.get $i)))
        (local.set $p (i32.shr_u (i32.sub (local.get $i) (i32.const 1)) (i32.const 1)))
        (local.set $pe (i64.load (i32.add (local.get $h) (i32.shl (local.get $p) (i32.const 3)))))
        (br_if $done (i64.ge_u (local.get $e) (local.get $pe)))
        (i64.store (i32.add (local.get $h) (i32.shl (local.get $i) (i32.const 3))) (local.get $pe))
        (local.set $i (local.get $p))
        (br $up)))
    (i64.store (i32.add (local.get $h) (i32.shl (local.get $i) (i32.const 3))) (local.get $e)))

  ;; Puts entry $e at the top of a heap of $n entries (n >= 1) and sifts it down: replaces the
  ;; top, or, with the last entry and n - 1, removes the top.
  (func $heap_sift (param $h i32) (param $n i32) (param $e i64)
    (local $i i32) (local $c i32) (local $ca i32) (local $ce i64) (local $re i64)
    (block $done
      (loop $down
        (local.set $c (i32.add (i32.shl (local.get $i) (i32.const 1)) (i32.const 1)))
        (br_if $done (i32.ge_u (local.get $c) (local.get $n)))
        (local.set $ca (i32.add (local.get $h) (i32.shl (local.get $c) (i32.const 3))))
        (local.set $ce (i64.load (local.get $ca)))
        (if (i32.lt_u (i32.add (local.get $c) (i32.const 1)) (local.get $n)) (then
          (local.set $re (i64.load offset=8 (local.get $ca)))
          (if (i64.lt_u (local.get $re) (local.get $ce)) (then
            (local.set $c (i32.add (local.get $c) (i32.const 1)))
            (local.set $ce (local.get $re))))))
        (br_if $done (i64.ge_u (local.get $ce) (local.get $e)))
        (i64.store (i32.add (local.get $h) (i32.shl (local.get $i) (i32.const 3))) (local.get $ce))
        (local.set $i (local.get $c))
        (br $down)))
    (i64.store (i32.add (local.get $h) (i32.shl (local.get $i) (i32.const 3))) (local.get $e)))

  ;; Removes the top of a heap of $n >= 1 entries.
  (func $heap_pop (param $h i32) (param $n i32)
    (if (i32.gt_u (local.get $n) (i32.const 1)) (then
      (call $heap_sift (local.get $h) (i32.sub (local.get $n) (i32.const 1))
        (i64.load (i32.add (local.get $h) (i32.shl (i32.sub (local.get $n) (i32.const 1)) (i32.const 3))))))))

  ;; ------------------------------------------------------------ visited stamps
  ;; u16 stamp per node: visited when it equals the epoch. Wrapping clears the stamps, once per
  ;; 65,535 layer searches.
  (func $next_epoch (param $c i32)
    (local $e i32)
    (local.set $e (i32.add (i32.load offset=40 (local.get $c)) (i32.const 1)))
    (if (i32.gt_u (local.get $e) (i32.const 0xffff)) (then
      (memory.fill (global.get $g_visited) (i32.const 0) (i32.shl (i32.load offset=132 (local.get $c)) (i32.const 1)))
      (local.set $e (i32.const 1))))
    (i32.store offset=40 (local.get $c) (local.get $e))
    (global.set $g_epoch (local.get $e)))

  ;; ------------------------------------------------------------ greedy descent
  ;; From $cur (key $curKey), on each level from $top down to $bottom, move to the best
  ;; neighbour while that improves the key. Returns the node; its key in $g_best.
  (func $greedy (param $q i32) (param $cur i32) (param $curKey f32) (param $top i32) (param $bottom i32) (result i32)
    (local $level i32) (local $moved i32) (local $lp i32) (local $n i32) (local $v i32) (local $s f32)
    (local.set $level (local.get $top))
    (block $levels_done
      (loop $levels
        (br_if $levels_done (i32.lt_s (local.get $level) (local.get $bottom)))
        (loop $move
          (local.set $moved (i32.const 0))
          (local.set $lp (call $links (local.get $cur) (local.get $level)))
          (local.set $n (i32.load (local.get $lp)))
          (global.set $g_evals (i32.add (global.get $g_evals) (local.get $n)))
          (block $scan_done
            (loop $scan
              (br_if $scan_done (i32.eqz (local.get $n)))
              (local.set $lp (i32.add (local.get $lp) (i32.const 4)))
              (local.set $v (i32.load (local.get $lp)))
              (local.set $s (call $key (local.get $q) (local.get $v)))
              (if (f32.gt (local.get $s) (local.get $curKey)) (then
                (local.set $curKey (local.get $s))
                (local.set $cur (local.get $v))
                (local.set $moved (i32.const 1))))
              (local.set $n (i32.sub (local.get $n) (i32.const 1)))
              (br $scan)))
          (br_if $move (local.get $moved)))
        (local.set $level (i32.sub (local.get $level) (i32.const 1)))
        (br $levels)))
    (global.set $g_best (local.get $curKey))
    (local.get $cur))

  ;; ------------------------------------------------------------ layer search
  ;; Best-first search of $level from $entry (key $entryKey), keeping the $ef best acceptable
  ;; nodes in the result heap; returns how many it holds. With $filtered, only acceptable nodes
  ;; enter the results, but every node is expanded, so a filter never cuts the graph apart.
  (func $search_layer (param $c i32) (param $q i32) (param $entry i32) (param $entryKey f32)
        (param $ef i32) (param $level i32) (param $filtered i32) (result i32)
    (local $cand i32) (local $res i32) (local $cn i32) (local $rn i32) (local $worst f32)
    (local $cur i32) (local $lp i32) (local $n i32) (local $k i32) (local $i i32) (local $v i32)
    (local $s f32) (local $ids i32) (local $visited i32) (local $epoch i32) (local $sa i32) (local $top i64)
    (call $next_epoch (local.get $c))
    (local.set $cand (global.get $g_cand))
    (local.set $res (global.get $g_res))
    (local.set $ids (global.get $g_ids))
    (local.set $visited (global.get $g_visited))
    (local.set $epoch (global.get $g_epoch))
    (i32.store16 (i32.add (local.get $visited) (i32.shl (local.get $entry) (i32.const 1))) (local.get $epoch))
    (call $heap_push (local.get $cand) (i32.const 0) (call $entry (f32.neg (local.get $entryKey)) (local.get $entry)))
    (local.set $cn (i32.const 1))
    (if (i32.or (i32.eqz (local.get $filtered)) (call $acceptable (local.get $entry))) (then
      (call $heap_push (local.get $res) (i32.const 0) (call $entry (local.get $entryKey) (local.get $entry)))
      (local.set $rn (i32.const 1))))
    (local.set $worst (f32.const -inf))
    (if (i32.ge_u (local.get $rn) (local.get $ef)) (then (local.set $worst (call $entry_key (i64.load (local.get $res))))))
    (block $done
      (loop $expand
        (br_if $done (i32.eqz (local.get $cn)))
        (local.set $top (i64.load (local.get $cand)))
        (br_if $done (f32.lt (f32.neg (call $entry_key (local.get $top))) (local.get $worst)))
        (local.set $cur (call $entry_id (local.get $top)))
        (call $heap_pop (local.get $cand) (local.get $cn))
        (local.set $cn (i32.sub (local.get $cn) (i32.const 1)))
        ;; Gather the neighbours not seen yet, marking them: the node's links, then, in a strict
        ;; walk on level 0, its extra links (subset graphs) when it has any and is itself allowed
        ;; (they lead to the points sharing its payload values, which is where the filter is).
        (local.set $lp (call $links (local.get $cur) (local.get $level)))
        (local.set $k (call $gather (i32.add (local.get $lp) (i32.const 4)) (i32.load (local.get $lp)) (local.get $ids) (i32.const 0)))
        (if (i32.and
              (i32.and (i32.ne (global.get $g_xstart) (i32.const 0)) (global.get $g_strict))
              (i32.and (i32.eqz (local.get $level)) (call $allowed_bit (local.get $cur)))) (then
          (local.set $sa (i32.add (global.get $g_xstart) (i32.shl (local.get $cur) (i32.const 2))))
          (local.set $k (call $gather
            (i32.add (global.get $g_xpool) (i32.shl (i32.load (local.get $sa)) (i32.const 2)))
            (i32.sub (i32.load offset=4 (local.get $sa)) (i32.load (local.get $sa)))
            (local.get $ids) (local.get $k)))))
        ;; Strict: once a result exists, nodes outside `allowed` are neither scored nor expanded
        ;; (they stay marked as visited). Until then every node is, so the walk can reach the
        ;; allowed ones from an entry point outside them.
        (if (i32.and (global.get $g_strict) (i32.ne (local.get $rn) (i32.const 0))) (then
          (local.set $i (i32.const 0))
          (local.set $n (i32.const 0))
          (block $kept
            (loop $keep
              (br_if $kept (i32.ge_u (local.get $i) (local.get $k)))
              (local.set $v (i32.load (i32.add (local.get $ids) (i32.shl (local.get $i) (i32.const 2)))))
              (if (call $allowed_bit (local.get $v)) (then
                (i32.store (i32.add (local.get $ids) (i32.shl (local.get $n) (i32.const 2))) (local.get $v))
                (local.set $n (i32.add (local.get $n) (i32.const 1)))))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br $keep)))
          (local.set $k (local.get $n))))
        (global.set $g_evals (i32.add (global.get $g_evals) (local.get $k)))
        (global.set $g_sink (i32.xor (global.get $g_sink) (call $touch (local.get $ids) (local.get $k))))
        ;; Score them; those that beat the worst kept result become candidates (and results).
        (local.set $i (i32.const 0))
        (block $scored
          (loop $score
            (br_if $scored (i32.ge_u (local.get $i) (local.get $k)))
            (local.set $v (i32.load (i32.add (local.get $ids) (i32.shl (local.get $i) (i32.const 2)))))
            (local.set $s (call $key (local.get $q) (local.get $v)))
            (if (f32.gt (local.get $s) (local.get $worst)) (then
              (call $heap_push (local.get $cand) (local.get $cn) (call $entry (f32.neg (local.get $s)) (local.get $v)))
              (local.set $cn (i32.add (local.get $cn) (i32.const 1)))
              (if (i32.or (i32.eqz (local.get $filtered)) (call $acceptable (local.get $v))) (then
                (if (i32.lt_u (local.get $rn) (local.get $ef))
                  (then
                    (call $heap_push (local.get $res) (local.get $rn) (call $entry (local.get $s) (local.get $v)))
                    (local.set $rn (i32.add (local.get $rn) (i32.const 1))))
                  (else
                    (call $heap_sift (local.get $res) (local.get $rn) (call $entry (local.get $s) (local.get $v)))))
                (if (i32.ge_u (local.get $rn) (local.get $ef)) (then
                  (local.set $worst (call $entry_key (i64.load (local.get $res))))))))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $score)))
        (br $expand)))
    (local.get $rn))

  ;; ------------------------------------------------------------ layer search without filters
  ;; The same search in one sorted pool instead of two heaps: the ef best nodes seen, best first
  ;; (packed entries at $g_res), each with an "expanded" flag (bit 0 of the entry); the best
  ;; unexpanded node is expanded until none is left. It is the same search as the two-heap one
  ;; (a candidate that has dropped out of the ef best could never be expanded there either), with
  ;; one binary search and one short move per newcomer instead of two heap updates, and the
  ;; results come out sorted. Used whenever every node is acceptable. Returns the pool's size.
  (func $search_pool (param $c i32) (param $q i32) (param $entry i32) (param $entryKey f32)
        (param $ef i32) (param $level i32) (result i32)
    (local $pool i32) (local $size i32) (local $cursor i32) (local $worst f32) (local $at i32)
    (local $cur i32) (local $lp i32) (local $n i32) (local $k i32) (local $i i32) (local $v i32)
    (local $s f32) (local $ids i32) (local $visited i32) (local $epoch i32) (local $sa i32)
    (local $e i64) (local $lo i32) (local $hi i32) (local $mid i32) (local $move i32)
    (call $next_epoch (local.get $c))
    (local.set $pool (global.get $g_res))
    (local.set $ids (global.get $g_ids))
    (local.set $visited (global.get $g_visited))
    (local.set $epoch (global.get $g_epoch))
    (i32.store16 (i32.add (local.get $visited) (i32.shl (local.get $entry) (i32.const 1))) (local.get $epoch))
    (i64.store (local.get $pool) (call $entry (local.get $entryKey) (local.get $entry)))
    (local.set $size (i32.const 1))
    (local.set $worst (f32.const -inf))
    (if (i32.ge_u (local.get $size) (local.get $ef)) (then (local.set $worst (local.get $entryKey))))
    (block $done
      (loop $expand
        ;; The best unexpanded entry; none left ends the search.
        (block $found
          (loop $seek
            (br_if $done (i32.ge_u (local.get $cursor) (local.get $size)))
            (local.set $at (i32.add (local.get $pool) (i32.shl (local.get $cursor) (i32.const 3))))
            (local.set $e (i64.load (local.get $at)))
            (br_if $found (i64.eqz (i64.and (local.get $e) (i64.const 1))))
            (local.set $cursor (i32.add (local.get $cursor) (i32.const 1)))
            (br $seek)))
        (i64.store (local.get $at) (i64.or (local.get $e) (i64.const 1)))
        (local.set $cur (call $entry_id (local.get $e)))
        (local.set $cursor (i32.add (local.get $cursor) (i32.const 1)))
        ;; Gather the neighbours not seen yet, marking them.
        (local.set $lp (call $links (local.get $cur) (local.get $level)))
        (local.set $n (i32.load (local.get $lp)))
        (local.set $k (i32.const 0))
        (block $gathered
          (loop $gather
            (br_if $gathered (i32.eqz (local.get $n)))
            (local.set $lp (i32.add (local.get $lp) (i32.const 4)))
            (local.set $v (i32.load (local.get $lp)))
            (local.set $sa (i32.add (local.get $visited) (i32.shl (local.get $v) (i32.const 1))))
            (if (i32.ne (i32.load16_u (local.get $sa)) (local.get $epoch)) (then
              (i32.store16 (local.get $sa) (local.get $epoch))
              (i32.store (i32.add (local.get $ids) (i32.shl (local.get $k) (i32.const 2))) (local.get $v))
              (local.set $k (i32.add (local.get $k) (i32.const 1)))))
            (local.set $n (i32.sub (local.get $n) (i32.const 1)))
            (br $gather)))
        (global.set $g_evals (i32.add (global.get $g_evals) (local.get $k)))
        (global.set $g_sink (i32.xor (global.get $g_sink) (call $touch (local.get $ids) (local.get $k))))
        ;; Score them; each that beats the worst kept entry takes its place in the pool.
        (local.set $i (i32.const 0))
        (block $scored
          (loop $score
            (br_if $scored (i32.ge_u (local.get $i) (local.get $k)))
            (local.set $v (i32.load (i32.add (local.get $ids) (i32.shl (local.get $i) (i32.const 2)))))
            (local.set $s (call $key (local.get $q) (local.get $v)))
            (if (f32.gt (local.get $s) (local.get $worst)) (then
              (local.set $e (call $entry (local.get $s) (local.get $v)))
              ;; First position whose entry ranks below the newcomer (entries sorted descending).
              (local.set $lo (i32.const 0))
              (local.set $hi (local.get $size))
              (block $placed
                (loop $bisect
                  (br_if $placed (i32.ge_u (local.get $lo) (local.get $hi)))
                  (local.set $mid (i32.shr_u (i32.add (local.get $lo) (local.get $hi)) (i32.const 1)))
                  (if (i64.ge_u (i64.load (i32.add (local.get $pool) (i32.shl (local.get $mid) (i32.const 3)))) (local.get $e))
                    (then (local.set $lo (i32.add (local.get $mid) (i32.const 1))))
                    (else (local.set $hi (local.get $mid))))
                  (br $bisect)))
              ;; Room: the entries below move down one place; a full pool drops its last.
              (local.set $move (i32.sub (local.get $size) (local.get $lo)))
              (if (i32.lt_u (local.get $size) (local.get $ef))
                (then (local.set $size (i32.add (local.get $size) (i32.const 1))))
                (else (local.set $move (i32.sub (local.get $move) (i32.const 1)))))
              (if (local.get $move) (then
                (memory.copy
                  (i32.add (local.get $pool) (i32.shl (i32.add (local.get $lo) (i32.const 1)) (i32.const 3)))
                  (i32.add (local.get $pool) (i32.shl (local.get $lo) (i32.const 3)))
                  (i32.shl (local.get $move) (i32.const 3)))))
              (i64.store (i32.add (local.get $pool) (i32.shl (local.get $lo) (i32.const 3))) (local.get $e))
              (if (i32.lt_u (local.get $lo) (local.get $cursor)) (then (local.set $cursor (local.get $lo))))
              (if (i32.ge_u (local.get $size) (local.get $ef)) (then
                (local.set $worst (call $entry_key (i64.load (i32.add (local.get $pool)
                  (i32.shl (i32.sub (local.get $size) (i32.const 1)) (i32.const 3))))))))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $score)))
        (br $expand)))
    (local.get $size))

  ;; Sorts a heap of $n entries in place, best first (heapsort: the worst goes last).
  (func $sort_heap (param $h i32) (param $n i32)
    (local $top i64)
    (block $done
      (loop $next
        (br_if $done (i32.le_u (local.get $n) (i32.const 1)))
        (local.set $top (i64.load (local.get $h)))
        (call $heap_pop (local.get $h) (local.get $n))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (i64.store (i32.add (local.get $h) (i32.shl (local.get $n) (i32.const 3))) (local.get $top))
        (br $next))))

  ;; Unpacks $n sorted entries into parallel id and key arrays.
  (func $unpack (param $from i32) (param $n i32) (param $ids i32) (param $keys i32)
    (local $e i64)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $e (i64.load (local.get $from)))
        (i32.store (local.get $ids) (call $entry_id (local.get $e)))
        (f32.store (local.get $keys) (call $entry_key (local.get $e)))
        (local.set $from (i32.add (local.get $from) (i32.const 8)))
        (local.set $ids (i32.add (local.get $ids) (i32.const 4)))
        (local.set $keys (i32.add (local.get $keys) (i32.const 4)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $next))))

  ;; ------------------------------------------------------------ results
  ;; Empties a heap of $n entries into ids/keys, best first.
  (func $drain (param $h i32) (param $n i32) (param $ids i32) (param $keys i32)
    (local $i i32)
    (local.set $i (local.get $n))
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $i)))
        (local.set $i (i32.sub (local.get $i) (i32.const 1)))
        (i32.store (i32.add (local.get $ids) (i32.shl (local.get $i) (i32.const 2))) (call $entry_id (i64.load (local.get $h))))
        (f32.store (i32.add (local.get $keys) (i32.shl (local.get $i) (i32.const 2))) (call $entry_key (i64.load (local.get $h))))
        (call $heap_pop (local.get $h) (i32.add (local.get $i) (i32.const 1)))
        (br $next))))

  ;; Keeps (key, id) among the best $cap entries of a result heap holding $n; returns the new n.
  (func $offer (param $h i32) (param $n i32) (param $cap i32) (param $key f32) (param $id i32) (result i32)
    (local $e i64)
    (local.set $e (call $entry (local.get $key) (local.get $id)))
    (if (i32.lt_u (local.get $n) (local.get $cap)) (then
      (call $heap_push (local.get $h) (local.get $n) (local.get $e))
      (return (i32.add (local.get $n) (i32.const 1)))))
    (if (i64.lt_u (i64.load (local.get $h)) (local.get $e)) (then
      (call $heap_sift (local.get $h) (local.get $n) (local.get $e))))
    (local.get $n))

  ;; The results, sorted best first at $g_res ($n entries), cut to `want`, then either rescored
  ;; on the f32 rows (best k of those) or cut to k; written best first to outIds/outKeys.
  ;; Returns how many.
  (func $finish (param $c i32) (param $n i32) (result i32)
    (local $res i32) (local $want i32) (local $k i32) (local $ids i32) (local $keys i32) (local $i i32)
    (local $v i32) (local $hn i32)
    (local.set $res (global.get $g_res))
    (local.set $k (i32.load offset=108 (local.get $c)))
    (local.set $ids (i32.load offset=60 (local.get $c)))
    (local.set $keys (i32.load offset=64 (local.get $c)))
    (if (i32.eqz (i32.load offset=112 (local.get $c))) (then
      (if (i32.gt_u (local.get $n) (local.get $k)) (then (local.set $n (local.get $k))))
      (call $unpack (local.get $res) (local.get $n) (local.get $ids) (local.get $keys))
      (return (local.get $n))))
    (local.set $want (i32.load offset=104 (local.get $c)))
    (if (i32.gt_u (local.get $n) (local.get $want)) (then (local.set $n (local.get $want))))
    ;; Rescore: full-precision keys of the kept candidates into a heap of the best k.
    (global.set $g_kind (i32.load offset=116 (local.get $c)))
    (global.set $g_vec (i32.load offset=120 (local.get $c)))
    (global.set $g_vstride (i32.load offset=124 (local.get $c)))
    (call $set_tbytes (i32.const 0))
    (global.set $g_evals (i32.add (global.get $g_evals) (local.get $n)))
    ;; The kept ids into the id list, a chunk at a time, touching their rows before scoring any.
    (local.set $i (i32.const 0))
    (block $touched
      (loop $chunk
        (br_if $touched (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $hn (i32.sub (local.get $n) (local.get $i)))
        (if (i32.gt_u (local.get $hn) (i32.const 256)) (then (local.set $hn (i32.const 256))))
        (local.set $v (i32.const 0))
        (block $listed
          (loop $list
            (br_if $listed (i32.ge_u (local.get $v) (local.get $hn)))
            (i32.store (i32.add (global.get $g_ids) (i32.shl (local.get $v) (i32.const 2)))
              (call $entry_id (i64.load (i32.add (local.get $res)
                (i32.shl (i32.add (local.get $i) (local.get $v)) (i32.const 3))))))
            (local.set $v (i32.add (local.get $v) (i32.const 1)))
            (br $list)))
        (global.set $g_sink (i32.xor (global.get $g_sink) (call $touch (global.get $g_ids) (local.get $hn))))
        (local.set $i (i32.add (local.get $i) (local.get $hn)))
        (br $chunk)))
    (local.set $hn (i32.const 0))
    (local.set $i (i32.const 0))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $v (call $entry_id (i64.load (i32.add (local.get $res) (i32.shl (local.get $i) (i32.const 3))))))
        (local.set $hn (call $offer (global.get $g_cand) (local.get $hn) (local.get $k)
          (call $key (i32.load offset=84 (local.get $c)) (local.get $v)) (local.get $v)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (call $drain (global.get $g_cand) (local.get $hn) (local.get $ids) (local.get $keys))
    (local.get $hn))

  ;; The query vector for the traversal kind: the coded query for int8 kinds.
  (func $traversal_query (param $c i32) (result i32)
    (if (result i32) (i32.ge_u (global.get $g_kind) (i32.const 3))
      (then (i32.load offset=88 (local.get $c)))
      (else (i32.load offset=84 (local.get $c)))))

  ;; ------------------------------------------------------------ entry points
  ;; One whole graph query; returns how many results it wrote to outIds/outKeys.
  (func (export "hnsw_search") (param $c i32) (result i32)
    (local $q i32) (local $cur i32) (local $curKey f32) (local $top i32) (local $n i32)
    (call $load_ctx (local.get $c))
    (local.set $q (call $traversal_query (local.get $c)))
    (local.set $cur (i32.load offset=92 (local.get $c)))
    (local.set $top (i32.load offset=96 (local.get $c)))
    (local.set $curKey (call $key (local.get $q) (local.get $cur)))
    (global.set $g_evals (i32.const 1))
    (if (i32.gt_u (local.get $top) (i32.const 0)) (then
      (local.set $cur (call $greedy (local.get $q) (local.get $cur) (local.get $curKey) (local.get $top) (i32.const 1)))
      (local.set $curKey (global.get $g_best))))
    (if (i32.or (global.get $g_allowed) (global.get $g_deleted))
      (then
        (local.set $n (call $search_layer (local.get $c) (local.get $q) (local.get $cur) (local.get $curKey)
          (i32.load offset=100 (local.get $c)) (i32.const 0) (i32.const 1)))
        (call $sort_heap (global.get $g_res) (local.get $n)))
      (else
        (local.set $n (call $search_pool (local.get $c) (local.get $q) (local.get $cur) (local.get $curKey)
          (i32.load offset=100 (local.get $c)) (i32.const 0)))))
    (local.set $n (call $finish (local.get $c) (local.get $n)))
    (i32.store offset=128 (local.get $c) (global.get $g_evals))
    (local.get $n))

  ;; Scores every acceptable row; keeps the best `want` (then rescored or cut to k as above).
  ;; Rows go in chunks of up to 64 acceptable ids: every cache line of a chunk's vectors is read
  ;; ($touch) before any is scored, so that when a filter leaves rows scattered over a memory
  ;; larger than the cache, their misses overlap instead of being paid one row at a time. An
  ;; unfiltered scan reads rows in order, which the hardware prefetcher follows on its own.
  (func (export "exact_scan") (param $c i32) (result i32)
    (local $q i32) (local $id i32) (local $count i32) (local $n i32) (local $want i32) (local $res i32)
    (local $filtered i32) (local $ids i32) (local $k i32) (local $i i32) (local $v i32) (local $bits i32)
    (call $load_ctx (local.get $c))
    ;; Only the vectors (or codes) are scored: no need to read the links before them.
    (call $set_tbytes (i32.const 0))
    (local.set $q (call $traversal_query (local.get $c)))
    (local.set $count (i32.load offset=132 (local.get $c)))
    (local.set $want (i32.load offset=104 (local.get $c)))
    (if (i32.eqz (i32.load offset=112 (local.get $c))) (then (local.set $want (i32.load offset=108 (local.get $c)))))
    (local.set $res (global.get $g_res))
    (local.set $ids (global.get $g_ids))
    (local.set $filtered (i32.or (global.get $g_allowed) (global.get $g_deleted)))
    (block $done
      (loop $chunk
        (br_if $done (i32.ge_u (local.get $id) (local.get $count)))
        ;; The acceptable ids of the next bytes of the bitsets, eight ids per byte, until the chunk
        ;; holds 64 or more (at most 71: the id list holds far more).
        (local.set $k (i32.const 0))
        (block $gathered
          (loop $next
            (br_if $gathered (i32.or (i32.ge_u (local.get $id) (local.get $count)) (i32.ge_u (local.get $k) (i32.const 64))))
            (local.set $bits (i32.const 0xff))
            (if (global.get $g_allowed) (then
              (local.set $bits (i32.load8_u (i32.add (global.get $g_allowed) (i32.shr_u (local.get $id) (i32.const 3)))))))
            (if (global.get $g_deleted) (then
              (local.set $bits (i32.and (local.get $bits) (i32.xor (i32.const 0xff)
                (i32.load8_u (i32.add (global.get $g_deleted) (i32.shr_u (local.get $id) (i32.const 3)))))))))
            (block $byte_done
              (loop $bit
                (br_if $byte_done (i32.eqz (local.get $bits)))
                (local.set $v (i32.add (local.get $id) (i32.ctz (local.get $bits))))
                (br_if $byte_done (i32.ge_u (local.get $v) (local.get $count)))
                (i32.store (i32.add (local.get $ids) (i32.shl (local.get $k) (i32.const 2))) (local.get $v))
                (local.set $k (i32.add (local.get $k) (i32.const 1)))
                (local.set $bits (i32.and (local.get $bits) (i32.sub (local.get $bits) (i32.const 1))))
                (br $bit)))
            (local.set $id (i32.add (local.get $id) (i32.const 8)))
            (br $next)))
        (global.set $g_evals (i32.add (global.get $g_evals) (local.get $k)))
        (if (local.get $filtered) (then
          (global.set $g_sink (i32.xor (global.get $g_sink) (call $touch (local.get $ids) (local.get $k))))))
        (local.set $i (i32.const 0))
        (block $scored
          (loop $score
            (br_if $scored (i32.ge_u (local.get $i) (local.get $k)))
            (local.set $v (i32.load (i32.add (local.get $ids) (i32.shl (local.get $i) (i32.const 2)))))
            (local.set $n (call $offer (local.get $res) (local.get $n) (local.get $want)
              (call $key (local.get $q) (local.get $v)) (local.get $v)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $score)))
        (br $chunk)))
    (call $sort_heap (local.get $res) (local.get $n))
    (local.set $n (call $finish (local.get $c) (local.get $n)))
    (i32.store offset=128 (local.get $c) (global.get $g_evals))
    (local.get $n))

  ;; ------------------------------------------------------------ construction
  ;; Neighbour selection (Malkov & Yashunin, algorithm 4, as hnswlib): walk the $n candidates
  ;; (best first, keys against the base node) and keep one only if it is closer to the base than
  ;; to every neighbour kept so far, up to $cap. In place: the kept ones move to the front.
  (func $select (param $ids i32) (param $keys i32) (param $n i32) (param $cap i32) (result i32)
    (local $kept i32) (local $i i32) (local $j i32) (local $cand i32) (local $ck f32) (local $cp i32)
    (if (i32.le_u (local.get $n) (local.get $cap)) (then (return (local.get $n))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (br_if $done (i32.ge_u (local.get $kept) (local.get $cap)))
        (local.set $cand (i32.load (i32.add (local.get $ids) (i32.shl (local.get $i) (i32.const 2)))))
        (local.set $ck (f32.load (i32.add (local.get $keys) (i32.shl (local.get $i) (i32.const 2)))))
        (local.set $cp (i32.add (global.get $g_vec) (i32.mul (local.get $cand) (global.get $g_vstride))))
        (local.set $j (i32.const 0))
        (block $good
          (block $bad
            (loop $against
              (br_if $good (i32.ge_u (local.get $j) (local.get $kept)))
              (global.set $g_evals (i32.add (global.get $g_evals) (i32.const 1)))
              (br_if $bad (f32.gt
                (call $key (local.get $cp) (i32.load (i32.add (local.get $ids) (i32.shl (local.get $j) (i32.const 2)))))
                (local.get $ck)))
              (local.set $j (i32.add (local.get $j) (i32.const 1)))
              (br $against)))
          ;; pruned
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $next))
        (i32.store (i32.add (local.get $ids) (i32.shl (local.get $kept) (i32.const 2))) (local.get $cand))
        (f32.store (i32.add (local.get $keys) (i32.shl (local.get $kept) (i32.const 2))) (local.get $ck))
        (local.set $kept (i32.add (local.get $kept) (i32.const 1)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $kept))

  ;; Sorts ids/keys[0..n) best first (larger key, then smaller id): insertion sort, n <= 2m + 1.
  (func $sort_best_first (param $ids i32) (param $keys i32) (param $n i32)
    (local $i i32) (local $j i32) (local $k f32) (local $id i32) (local $pk f32) (local $pid i32)
    (local.set $i (i32.const 1))
    (block $done
      (loop $outer
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $k (f32.load (i32.add (local.get $keys) (i32.shl (local.get $i) (i32.const 2)))))
        (local.set $id (i32.load (i32.add (local.get $ids) (i32.shl (local.get $i) (i32.const 2)))))
        (local.set $j (local.get $i))
        (block $placed
          (loop $inner
            (br_if $placed (i32.eqz (local.get $j)))
            (local.set $pk (f32.load (i32.add (local.get $keys) (i32.shl (i32.sub (local.get $j) (i32.const 1)) (i32.const 2)))))
            (local.set $pid (i32.load (i32.add (local.get $ids) (i32.shl (i32.sub (local.get $j) (i32.const 1)) (i32.const 2)))))
            ;; stop when the previous entry ranks at or above the one being placed
            (br_if $placed (i64.ge_u (call $entry (local.get $pk) (local.get $pid)) (call $entry (local.get $k) (local.get $id))))
            (f32.store (i32.add (local.get $keys) (i32.shl (local.get $j) (i32.const 2))) (local.get $pk))
            (i32.store (i32.add (local.get $ids) (i32.shl (local.get $j) (i32.const 2))) (local.get $pid))
            (local.set $j (i32.sub (local.get $j) (i32.const 1)))
            (br $inner)))
        (f32.store (i32.add (local.get $keys) (i32.shl (local.get $j) (i32.const 2))) (local.get $k))
        (i32.store (i32.add (local.get $ids) (i32.shl (local.get $j) (i32.const 2))) (local.get $id))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $outer))))

  ;; Rebuilds node $nb's full list at $lp (cap $cap) from its links plus $extra by the heuristic.
  (func $shrink (param $c i32) (param $nb i32) (param $lp i32) (param $cap i32) (param $extra i32)
    (local $ids i32) (local $keys i32) (local $n i32) (local $i i32) (local $v i32) (local $base i32) (local $kept i32)
    (local.set $ids (global.get $g_ids))
    (local.set $keys (i32.load offset=56 (local.get $c)))
    (local.set $base (i32.add (global.get $g_vec) (i32.mul (local.get $nb) (global.get $g_vstride))))
    (local.set $n (i32.load (local.get $lp)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $v (i32.load offset=4 (i32.add (local.get $lp) (i32.shl (local.get $i) (i32.const 2)))))
        (i32.store (i32.add (local.get $ids) (i32.shl (local.get $i) (i32.const 2))) (local.get $v))
        (f32.store (i32.add (local.get $keys) (i32.shl (local.get $i) (i32.const 2))) (call $key (local.get $base) (local.get $v)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.store (i32.add (local.get $ids) (i32.shl (local.get $n) (i32.const 2))) (local.get $extra))
    (f32.store (i32.add (local.get $keys) (i32.shl (local.get $n) (i32.const 2))) (call $key (local.get $base) (local.get $extra)))
    (global.set $g_evals (i32.add (global.get $g_evals) (i32.add (local.get $n) (i32.const 1))))
    (call $sort_best_first (local.get $ids) (local.get $keys) (i32.add (local.get $n) (i32.const 1)))
    (local.set $kept (call $select (local.get $ids) (local.get $keys) (i32.add (local.get $n) (i32.const 1)) (local.get $cap)))
    (i32.store (local.get $lp) (local.get $kept))
    (memory.copy (i32.add (local.get $lp) (i32.const 4)) (local.get $ids) (i32.shl (local.get $kept) (i32.const 2))))

  ;; Inserts node $id at its drawn level (levels region): greedy descent to that level, then on
  ;; each level down to 0 an ef_construct search, m neighbours kept by the heuristic, and links
  ;; back, pruning a neighbour's list by the heuristic when it is full (2m on level 0, m above).
  (func $insert (param $c i32) (param $id i32)
    (local $level i32) (local $q i32) (local $entry i32) (local $top i32) (local $cur i32) (local $curKey f32)
    (local $l i32) (local $n i32) (local $ids i32) (local $keys i32) (local $kept i32) (local $lp i32)
    (local $j i32) (local $nb i32) (local $nlp i32) (local $nn i32) (local $cap i32) (local $m i32)
    (local.set $level (i32.load8_u (i32.add (i32.load offset=136 (local.get $c)) (local.get $id))))
    (local.set $q (i32.add (global.get $g_vec) (i32.mul (local.get $id) (global.get $g_vstride))))
    (local.set $entry (i32.load offset=92 (local.get $c)))
    (local.set $top (i32.load offset=96 (local.get $c)))
    (if (i32.eq (local.get $entry) (i32.const -1)) (then
      (i32.store offset=92 (local.get $c) (local.get $id))
      (i32.store offset=96 (local.get $c) (local.get $level))
      (return)))
    (local.set $m (i32.load offset=140 (local.get $c)))
    (local.set $ids (i32.load offset=60 (local.get $c)))
    (local.set $keys (i32.load offset=64 (local.get $c)))
    (local.set $cur (local.get $entry))
    (local.set $curKey (call $key (local.get $q) (local.get $cur)))
    (global.set $g_evals (i32.add (global.get $g_evals) (i32.const 1)))
    (if (i32.gt_u (local.get $top) (local.get $level)) (then
      (local.set $cur (call $greedy (local.get $q) (local.get $cur) (local.get $curKey) (local.get $top)
        (i32.add (local.get $level) (i32.const 1))))
      (local.set $curKey (global.get $g_best))))
    (local.set $l (select (local.get $level) (local.get $top) (i32.lt_u (local.get $level) (local.get $top))))
    (block $levels_done
      (loop $levels
        (br_if $levels_done (i32.lt_s (local.get $l) (i32.const 0)))
        (local.set $n (call $search_pool (local.get $c) (local.get $q) (local.get $cur) (local.get $curKey)
          (i32.load offset=144 (local.get $c)) (local.get $l)))
        (call $unpack (global.get $g_res) (local.get $n) (local.get $ids) (local.get $keys))
        (local.set $cur (i32.load (local.get $ids)))
        (local.set $curKey (f32.load (local.get $keys)))
        (local.set $kept (call $select (local.get $ids) (local.get $keys) (local.get $n) (local.get $m)))
        (local.set $lp (call $links (local.get $id) (local.get $l)))
        (i32.store (local.get $lp) (local.get $kept))
        (memory.copy (i32.add (local.get $lp) (i32.const 4)) (local.get $ids) (i32.shl (local.get $kept) (i32.const 2)))
        ;; Link back from each kept neighbour (read from the node's own list: shrink reuses scratch).
        (local.set $cap (select (i32.shl (local.get $m) (i32.const 1)) (local.get $m) (i32.eqz (local.get $l))))
        (local.set $j (i32.const 0))
        (block $linked
          (loop $link
            (br_if $linked (i32.ge_u (local.get $j) (local.get $kept)))
            (local.set $nb (i32.load offset=4 (i32.add (local.get $lp) (i32.shl (local.get $j) (i32.const 2)))))
            (local.set $nlp (call $links (local.get $nb) (local.get $l)))
            (local.set $nn (i32.load (local.get $nlp)))
            (if (i32.lt_u (local.get $nn) (local.get $cap))
              (then
                (i32.store offset=4 (i32.add (local.get $nlp) (i32.shl (local.get $nn) (i32.const 2))) (local.get $id))
                (i32.store (local.get $nlp) (i32.add (local.get $nn) (i32.const 1))))
              (else
                (call $shrink (local.get $c) (local.get $nb) (local.get $nlp) (local.get $cap) (local.get $id))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $link)))
        (local.set $l (i32.sub (local.get $l) (i32.const 1)))
        (br $levels)))
    (if (i32.gt_u (local.get $level) (local.get $top)) (then
      (i32.store offset=92 (local.get $c) (local.get $id))
      (i32.store offset=96 (local.get $c) (local.get $level)))))

  ;; Inserts nodes $from .. $to - 1 in order; entry and maxLevel are kept in the context block.
  ;; Returns the distance evaluations made.
  (func (export "hnsw_build") (param $c i32) (param $from i32) (param $to i32) (result i32)
    (call $load_ctx (local.get $c))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $from) (local.get $to)))
        (call $insert (local.get $c) (local.get $from))
        (local.set $from (i32.add (local.get $from) (i32.const 1)))
        (br $next)))
    (global.get $g_evals))
