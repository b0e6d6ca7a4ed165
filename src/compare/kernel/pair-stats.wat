;; Accelerated pair statistics: WebAssembly SIMD (v128) version of `pairStatsJs` in ../stats.ts.
;;
;; Why hand-written wasm: no npm library computes this set of statistics (sum/max/min of |a - e|
;; with first-argmax, max relative error, allclose excess and mismatch count) in one pass, and V8
;; does not auto-vectorise JavaScript loops. Measured on the 2-core Zen 5 dev box: the plain-JS
;; kernel costs ~4-5 ns/element (more in some runs), a bare JS `sum += Math.abs(a[i] - b[i])`
;; loop alone 0.8-1.05 ns/element, numpy's `np.abs(a - b).mean()` 1.01 ns/element. The target,
;; <= 1 ns/element for ALL the statistics of two 50M-element Float32Arrays, copy included, needs
;; SIMD and an instruction budget: ~0.3 ns/element go to copying the inputs in (DRAM bandwidth),
;; ~0.62 to this module's fast loop.
;; Regenerate the committed bytes with `node scripts/build-wasm.mjs`.
;;
;; Overview
;; - The JS driver (index.ts) copies fixed-size chunks of both inputs into a slot of the shared
;;   memory this module imports (actual at the slot's address, expected 128 KiB further) and calls
;;   step32 or step64 once per chunk, with the slot's address and the flat index of the chunk's
;;   first element; step32 picks chunk32 or chunk32x. All accumulators persist in globals between
;;   calls: memory use does not depend on n. Globals are per instance, so several instances (the
;;   main thread's and a worker thread's) run over one memory, each in its own slots, and each
;;   keeps the statistics of its own chunks; the driver merges them. An instance must get its
;;   chunks in increasing index order (its first-index ties rely on it), not consecutive ones.
;; - Sums are float64 (f32 lanes are promoted), so they match the JS kernel up to summation order.
;; - The fast path assumes every value is finite. Any NaN/Inf operand makes |a - e| NaN or +Inf,
;;   which poisons Σ|Δ| for good (it only ever goes through additions, never through a min/max
;;   that could drop a NaN), so the driver detects it from the sum after each chunk and reruns the
;;   JS kernel instead. A float64 difference that overflows is caught the same way.
;; - Σ|Δ|, Σ|e|, max |e| and min |e| are lane-wise SIMD reductions.
;; - max |Δ|, max rel and max excess (each with its FIRST index), min |Δ| and the mismatch count
;;   are kept exactly as the JS kernel keeps them: scalars holding the same f64 values, updated
;;   as its strict comparisons would in element order. The hot loops do not compute them; each
;;   group of 8 elements goes through two filters instead:
;;   Level 1 (hot loop) flags the group when some element MAY have |Δ| > maxAbs, |Δ| < minAbs,
;;     rel > maxRel or excess > maxExcess, and in chunk32 also excess > atol (a possible
;;     mismatch). It never misses one (proof below); it may flag harmless groups.
;;   Level 2 ($check, only for flagged groups) applies the group to the state exactly, in f64
;;     SIMD: a group max that beats the state is taken with the first index attaining it, which
;;     is what a strict `>` in element order does when there is no NaN and no -0 (|x| is +0).
;;     It divides only when some element may beat maxRel (records are rare after the first few
;;     elements), and counts the group's mismatches for chunk32.
;;   So the loops do no division and no index bookkeeping, and the results are exact anyway.
;; - chunk32 (level 1 on the f32 lanes, below) is the fast loop. Data where many elements tie
;;   with an extreme (integer-valued floats: every group flagged) or mismatch would send most
;;   groups to level 2, so the driver switches to chunk32x for a while when a chunk needed many
;;   checks: it has the exact f64 level 1 (ties do not trip it) and counts mismatches itself.
;;
;; Level 1 for float32 inputs works on the f32 lanes (4 per op instead of 2) with thresholds
;; rounded to f32 by $refresh, so it must be proven conservative. Notation: D = |a - e| exact,
;; df = fl32(D) (what f32x4.sub gives), d = fl64(D) (what the JS kernel has), ae = |e| exact,
;; u = 2^-53, u32 = 2^-24, rd32/ru32 = round down/up to f32. A group is flagged when, for one of
;; its elements, df > min(AB, Tr, Tx) or df < LB. The driver only sends tolerances with atol finite
;; and rtol = 0 or 2^-60 <= rtol <= 1.
;; - max |Δ|: AB = 0 if maxAbs = 0, else the f32 just below rd32(maxAbs). d > maxAbs => D > maxAbs
;;   => df >= rd32(maxAbs) > AB (and D > 0 => df > 0). Ties with maxAbs are flagged (level 2).
;; - min |Δ|: LB = 0 if minAbs = 0, else the f32 just above ru32(minAbs). d < minAbs => D < minAbs
;;   => df <= ru32(minAbs) < LB.
;; - |e| below 2^-60 is replaced by 0 ("xc"), which only lowers Tr and Tx. With it every product
;;   below is 0 or a normal f32: a non-zero rel of f32 data is >= 2^-25 (|a - e| >= 2^-24 |e| for
;;   a != e), so R32 is 0 or >= 2^-26, and RT is 0 or >= 2^-61.
;; - rel: Tr = fl32(xc R32), R32 = rd32(fl64(maxRel (1 - 2^-20))) (+Inf when maxRel = +Inf:
;;   nothing beats it, and the NaN of 0 * Inf acts as +Inf below). rel > maxRel with e = 0 means
;;   D > 0 = Tr. Otherwise rel > M => D > M ae / (1 + u), while Tr <= M ae (1 - 2^-21), so D is
;;   normal and df >= D (1 - u32) > Tr. If Tr overflows, D > FLT_MAX too and df = +Inf > AB.
;; - excess: JS exc = fl64(d - p), p = fl64(rtol ae). exc > TX (TX = min(maxExcess, atol)) =>
;;   d - p > TX => D (1 + u) > R := TX + rtol ae (1 - u). Tx = fl32(Q + XS), Q = fl32(xc RT) <=
;;   rtol ae (1 - 2^-21), RT = rd32(rtol (1 - 2^-20)), XS = rd32(TX - |TX| 2^-20) (capped at
;;   2^100, so Q + XS cannot overflow). Then Q + XS <= R - 2^-22 (rtol ae + |TX|), hence: if R < 0,
;;   Tx < 0 <= df (flagged, D = 0 included); if R >= 0, df <= Tx => D <= Tx (1 + 2^-23) =>
;;   D (1 + u) <= R, i.e. the element cannot exceed TX. Exact matches with TX + p >= 0 (e.g.
;;   identical arrays) are not flagged.
;; - The comparisons and min/max run as i32 ops on the float bits (the same order for
;;   non-negative floats; a negative bound is below every df either way, at worst flagging a
;;   df = 0 against a -0), because integer ops do not compete with the float adds for ports.
;; - Until every statistic has a value (the first group), AB = -Infinity flags every group.
;; Exact level 1 (chunk32x, chunk64): d > maxAbs, d < minAbs, excess > maxExcess in f64 as the
;; JS kernel computes them, and for rel without division: fl64(d/ae) > M => d > M ae; with
;; t = fl64(fl64(M c) ae), c = 1 - 2^-50, t <= M ae c (1 + u)^2 < M ae when the products are
;; normal; a t below 2^-1020 is replaced by 0 (conservative). $check uses the same rel test to
;; decide whether to divide.
(module
  ;; A shared memory, so that a worker thread can run a second instance over the same buffer
  ;; (see index.ts). Its layout is the driver's: this module only gets the address of the chunk
  ;; ($slot: actual at +0, expected at +131072) and where $finish writes.
  (import "env" "memory" (memory 1 65536 shared))

  ;; Constants of the f32 hot loop, as mutable globals on purpose: V8 rematerialises a v128.const
  ;; at every use inside the loop (3 instructions each), but keeps a global's value in a register.
  (global $cM32 (mut v128) (v128.const i32x4 0x7fffffff 0x7fffffff 0x7fffffff 0x7fffffff))
  (global $cM64 (mut v128) (v128.const i64x2 0x7fffffffffffffff 0x7fffffffffffffff))
  (global $cTau (mut v128) (v128.const f32x4 0x1p-60 0x1p-60 0x1p-60 0x1p-60))
  (global $rtol (mut f64) (f64.const 0))
  (global $atol (mut f64) (f64.const 0))
  ;; flat index of element 0 of the current chunk, and its byte address in memory
  (global $base (mut f64) (f64.const 0))
  (global $slot (mut i32) (i32.const 0))
  ;; loop choice for float32 chunks (see $step32): 0 auto, 1 fast, 2 exact
  (global $mode (mut i32) (i32.const 0))
  (global $exactLeft (mut i32) (i32.const 0))
  (global $exactSpan (mut i32) (i32.const 16))

  ;; exact scalar state, same semantics as the JS kernel
  (global $maxAbs (mut f64) (f64.const -inf))
  (global $argAbs (mut f64) (f64.const -1))
  (global $minAbs (mut f64) (f64.const inf))
  (global $maxRel (mut f64) (f64.const -inf))
  (global $argRel (mut f64) (f64.const -1))
  (global $maxExc (mut f64) (f64.const -inf))
  (global $argExc (mut f64) (f64.const -1))
  (global $sMis (mut f64) (f64.const 0))

  ;; level-1 thresholds for f32 data (f32x4 splats, see header), set by $refresh
  (global $gAB (mut v128) (v128.const f32x4 -inf -inf -inf -inf))
  (global $gR32 (mut v128) (v128.const f32x4 0 0 0 0))
  (global $gRT (mut v128) (v128.const f32x4 0 0 0 0))
  (global $gXS (mut v128) (v128.const f32x4 -inf -inf -inf -inf))
  (global $gLB (mut v128) (v128.const f32x4 inf inf inf inf))

  ;; lane-wise accumulators
  (global $vSum (mut v128) (v128.const f64x2 0 0))
  ;; mismatch counts of the exact loops (i64 lanes)
  (global $vMis (mut v128) (v128.const i64x2 0 0))
  ;; level-2 calls in the current chunk call, reported to the driver (see chunk32)
  (global $checks (mut i32) (i32.const 0))
  (global $vSumE (mut v128) (v128.const f64x2 0 0))
  (global $vMaxE (mut v128) (v128.const f64x2 0 0))
  (global $vMinE (mut v128) (v128.const f64x2 inf inf))
  (global $vMaxE32 (mut v128) (v128.const f32x4 0 0 0 0))
  (global $vMinE32 (mut v128) (v128.const f32x4 inf inf inf inf))

  ;; scalar accumulators for chunk tails (< 8 elements)
  (global $sSum (mut f64) (f64.const 0))
  (global $sSumE (mut f64) (f64.const 0))
  (global $sMaxE (mut f64) (f64.const 0))
  (global $sMinE (mut f64) (f64.const inf))


  (func (export "init") (param $atol f64) (param $rtol f64) (param $mode i32)
    (global.set $atol (local.get $atol))
    (global.set $rtol (local.get $rtol))
    (global.set $mode (local.get $mode))
    (global.set $exactLeft (i32.const 0))
    (global.set $exactSpan (i32.const 16))
    (global.set $maxAbs (f64.const -inf))
    (global.set $argAbs (f64.const -1))
    (global.set $minAbs (f64.const inf))
    (global.set $maxRel (f64.const -inf))
    (global.set $argRel (f64.const -1))
    (global.set $maxExc (f64.const -inf))
    (global.set $argExc (f64.const -1))
    (global.set $sMis (f64.const 0))
    (global.set $vSum (v128.const f64x2 0 0))
    (global.set $vMis (v128.const i64x2 0 0))
    (global.set $vSumE (v128.const f64x2 0 0))
    (global.set $vMaxE (v128.const f64x2 0 0))
    (global.set $vMinE (v128.const f64x2 inf inf))
    (global.set $vMaxE32 (v128.const f32x4 0 0 0 0))
    (global.set $vMinE32 (v128.const f32x4 inf inf inf inf))
    (global.set $sSum (f64.const 0))
    (global.set $sSumE (f64.const 0))
    (global.set $sMaxE (f64.const 0))
    (global.set $sMinE (f64.const inf))
    (call $refresh))

  ;; The f32 just below $f (toward -Infinity).
  (func $pred32 (param $f f32) (result f32)
    (if (result f32) (f32.eq (local.get $f) (f32.const 0))
      (then (f32.const -0x1p-149))
      (else
        (if (result f32) (f32.gt (local.get $f) (f32.const 0))
          (then (f32.reinterpret_i32 (i32.sub (i32.reinterpret_f32 (local.get $f)) (i32.const 1))))
          (else
            (if (result f32) (f32.eq (local.get $f) (f32.const -inf))
              (then (local.get $f))
              (else
                (f32.reinterpret_i32 (i32.add (i32.reinterpret_f32 (local.get $f)) (i32.const 1))))))))))

  ;; The largest f32 <= $x.
  (func $rd32 (param $x f64) (result f32)
    (local $f f32)
    (local.set $f (f32.demote_f64 (local.get $x)))
    (if (result f32) (f64.gt (f64.promote_f32 (local.get $f)) (local.get $x))
      (then (call $pred32 (local.get $f)))
      (else (local.get $f))))

  ;; The f32 just above $f (toward +Infinity); +Infinity stays.
  (func $succ32 (param $f f32) (result f32)
    (if (result f32) (f32.eq (local.get $f) (f32.const 0))
      (then (f32.const 0x1p-149))
      (else
        (if (result f32) (f32.lt (local.get $f) (f32.const 0))
          (then (f32.reinterpret_i32 (i32.sub (i32.reinterpret_f32 (local.get $f)) (i32.const 1))))
          (else
            (if (result f32) (f32.eq (local.get $f) (f32.const inf))
              (then (local.get $f))
              (else
                (f32.reinterpret_i32 (i32.add (i32.reinterpret_f32 (local.get $f)) (i32.const 1))))))))))

  ;; The smallest f32 >= $x.
  (func $ru32 (param $x f64) (result f32)
    (local $f f32)
    (local.set $f (f32.demote_f64 (local.get $x)))
    (if (result f32) (f64.lt (f64.promote_f32 (local.get $f)) (local.get $x))
      (then (call $succ32 (local.get $f)))
      (else (local.get $f))))

  ;; Level-1 thresholds for f32 data from the current state (see header).
  (func $refresh
    (local $tx f64)
    (if (i32.or
          (f64.eq (global.get $maxAbs) (f64.const -inf))
          (i32.or
            (f64.eq (global.get $maxRel) (f64.const -inf))
            (f64.eq (global.get $maxExc) (f64.const -inf))))
      (then (global.set $gAB (v128.const f32x4 -inf -inf -inf -inf)))
      (else
        (global.set $gAB (f32x4.splat
          (select (f32.const 0) (call $pred32 (call $rd32 (global.get $maxAbs)))
            (f64.eq (global.get $maxAbs) (f64.const 0)))))))
    (global.set $gR32 (f32x4.splat
      (select (f32.const inf)
        (call $rd32 (f64.mul (global.get $maxRel) (f64.const 0x1.ffffep-1)))
        (f64.eq (global.get $maxRel) (f64.const inf)))))
    (global.set $gRT (f32x4.splat
      (call $rd32 (f64.mul (global.get $rtol) (f64.const 0x1.ffffep-1)))))
    (global.set $gLB (f32x4.splat
      (select (f32.const 0) (call $succ32 (call $ru32 (global.get $minAbs)))
        (f64.eq (global.get $minAbs) (f64.const 0)))))
    (local.set $tx (f64.min (global.get $maxExc) (global.get $atol)))
    (global.set $gXS (f32x4.splat
      (call $rd32
        (f64.min (f64.const 0x1p100)
          (f64.sub (local.get $tx) (f64.mul (f64.abs (local.get $tx)) (f64.const 0x1p-20))))))))

  ;; One element of the exact statistics (extremes and their indices), as pairStatsJs does it
  ;; for finite a and e.
  (func $upd (param $a f64) (param $e f64) (param $i f64)
    (local $d f64) (local $ae f64) (local $rel f64) (local $exc f64)
    (local.set $d (f64.abs (f64.sub (local.get $a) (local.get $e))))
    (local.set $ae (f64.abs (local.get $e)))
    (if (f64.gt (local.get $d) (global.get $maxAbs))
      (then
        (global.set $maxAbs (local.get $d))
        (global.set $argAbs (local.get $i))))
    (if (f64.lt (local.get $d) (global.get $minAbs))
      (then (global.set $minAbs (local.get $d))))
    (local.set $rel
      (select (f64.const 0) (f64.div (local.get $d) (local.get $ae))
        (f64.eq (local.get $d) (f64.const 0))))
    (if (f64.gt (local.get $rel) (global.get $maxRel))
      (then
        (global.set $maxRel (local.get $rel))
        (global.set $argRel (local.get $i))))
    (local.set $exc
      (f64.sub (local.get $d) (f64.mul (global.get $rtol) (local.get $ae))))
    (if (f64.gt (local.get $exc) (global.get $maxExc))
      (then
        (global.set $maxExc (local.get $exc))
        (global.set $argExc (local.get $i)))))

  ;; One tail element: the argmax statistics plus the scalar accumulators and the mismatch count.
  (func $elem (param $a f64) (param $e f64) (param $i f64)
    (local $d f64) (local $ae f64)
    (call $upd (local.get $a) (local.get $e) (local.get $i))
    (local.set $d (f64.abs (f64.sub (local.get $a) (local.get $e))))
    (local.set $ae (f64.abs (local.get $e)))
    (global.set $sSum (f64.add (global.get $sSum) (local.get $d)))
    (global.set $sSumE (f64.add (global.get $sSumE) (local.get $ae)))
    (global.set $sMaxE (f64.max (global.get $sMaxE) (local.get $ae)))
    (global.set $sMinE (f64.min (global.get $sMinE) (local.get $ae)))
    (if (f64.gt
          (f64.sub (local.get $d) (f64.mul (global.get $rtol) (local.get $ae)))
          (global.get $atol))
      (then (global.set $sMis (f64.add (global.get $sMis) (f64.const 1))))))

  (func $minE (result f64)
    (f64.min
      (f64.min (global.get $sMinE)
        (f64.min (f64x2.extract_lane 0 (global.get $vMinE)) (f64x2.extract_lane 1 (global.get $vMinE))))
      (f64.promote_f32
        (f32.min
          (f32.min (f32x4.extract_lane 0 (global.get $vMinE32)) (f32x4.extract_lane 1 (global.get $vMinE32)))
          (f32.min (f32x4.extract_lane 2 (global.get $vMinE32)) (f32x4.extract_lane 3 (global.get $vMinE32)))))))

  (func $maxE (result f64)
    (f64.max
      (f64.max (global.get $sMaxE)
        (f64.max (f64x2.extract_lane 0 (global.get $vMaxE)) (f64x2.extract_lane 1 (global.get $vMaxE))))
      (f64.promote_f32
        (f32.max
          (f32.max (f32x4.extract_lane 0 (global.get $vMaxE32)) (f32x4.extract_lane 1 (global.get $vMaxE32)))
          (f32.max (f32x4.extract_lane 2 (global.get $vMaxE32)) (f32x4.extract_lane 3 (global.get $vMaxE32)))))))

  ;; 1 when Σ|Δ| or Σ|e| so far is NaN or infinite: a non-finite operand (or an overflow).
  (func $poisoned (result i32)
    (local $s f64)
    (local.set $s
      (f64.add
        (f64.add (global.get $sSum) (global.get $sSumE))
        (f64.add
          (f64.add (f64x2.extract_lane 0 (global.get $vSum)) (f64x2.extract_lane 1 (global.get $vSum)))
          (f64.add (f64x2.extract_lane 0 (global.get $vSumE)) (f64x2.extract_lane 1 (global.get $vSumE))))))
    (f64.ne (f64.sub (local.get $s) (local.get $s)) (f64.const 0)))

  ;; (actual, expected) at byte offset $p of the chunk, as f64; $w = 4 (f32) or 8 (f64).
  (func $load (param $p i32) (param $w i32) (result f64 f64)
    (if (result f64 f64) (i32.eq (local.get $w) (i32.const 4))
      (then
        (f64.promote_f32 (f32.load (local.get $p)))
        (f64.promote_f32 (f32.load offset=131072 (local.get $p))))
      (else
        (f64.load (local.get $p))
        (f64.load offset=131072 (local.get $p)))))

  ;; The chunk tail (< 8 elements from byte offset $p) through $elem.
  (func $tail (param $p i32) (param $cnt i32) (param $w i32)
    (local $end i32) (local $a f64) (local $e f64)
    (local.set $end (i32.add (local.get $p) (i32.mul (local.get $cnt) (local.get $w))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (call $load (local.get $p) (local.get $w))
        (local.set $e)
        (local.set $a)
        (call $elem (local.get $a) (local.get $e)
          (f64.add (global.get $base)
            (f64.convert_i32_u (i32.div_u (i32.sub (local.get $p) (global.get $slot)) (local.get $w)))))
        (local.set $p (i32.add (local.get $p) (local.get $w)))
        (br $next))))

  ;; Largest lane of four f64x2 (no NaN here).
  (func $max4 (param $a v128) (param $b v128) (param $c v128) (param $d v128) (result f64)
    (local $m v128)
    (local.set $m (f64x2.pmax (f64x2.pmax (local.get $a) (local.get $b)) (f64x2.pmax (local.get $c) (local.get $d))))
    (f64.max (f64x2.extract_lane 0 (local.get $m)) (f64x2.extract_lane 1 (local.get $m))))

  ;; Index (0-7, lanes in order a.0 a.1 b.0 .. d.1) of the first lane equal to $v.
  (func $first4 (param $a v128) (param $b v128) (param $c v128) (param $d v128) (param $v f64)
    (result i32)
    (local $s v128)
    (local.set $s (f64x2.splat (local.get $v)))
    (i32.ctz
      (i32.or
        (i32.or
          (i64x2.bitmask (f64x2.eq (local.get $a) (local.get $s)))
          (i32.shl (i64x2.bitmask (f64x2.eq (local.get $b) (local.get $s))) (i32.const 2)))
        (i32.or
          (i32.shl (i64x2.bitmask (f64x2.eq (local.get $c) (local.get $s))) (i32.const 4))
          (i32.shl (i64x2.bitmask (f64x2.eq (local.get $d) (local.get $s))) (i32.const 6))))))

  ;; The max-rel part of $check: rel = d == 0 ? 0 : d / ae for the 8 elements (the d != 0 mask
  ;; zeroes the NaN of 0/0); returns 1 when maxRel changed.
  (func $rel8 (param $d0 v128) (param $d1 v128) (param $d2 v128) (param $d3 v128)
    (param $x0 v128) (param $x1 v128) (param $x2 v128) (param $x3 v128) (param $i f64) (result i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $v f64)
    (local.set $a0 (v128.and (f64x2.div (local.get $d0) (local.get $x0)) (f64x2.ne (local.get $d0) (v128.const f64x2 0 0))))
    (local.set $a1 (v128.and (f64x2.div (local.get $d1) (local.get $x1)) (f64x2.ne (local.get $d1) (v128.const f64x2 0 0))))
    (local.set $a2 (v128.and (f64x2.div (local.get $d2) (local.get $x2)) (f64x2.ne (local.get $d2) (v128.const f64x2 0 0))))
    (local.set $a3 (v128.and (f64x2.div (local.get $d3) (local.get $x3)) (f64x2.ne (local.get $d3) (v128.const f64x2 0 0))))
    (local.set $v (call $max4 (local.get $a0) (local.get $a1) (local.get $a2) (local.get $a3)))
    (if (f64.gt (local.get $v) (global.get $maxRel))
      (then
        (global.set $maxRel (local.get $v))
        (global.set $argRel (f64.add (local.get $i) (f64.convert_i32_u
          (call $first4 (local.get $a0) (local.get $a1) (local.get $a2) (local.get $a3) (local.get $v)))))
        (return (i32.const 1))))
    (i32.const 0))

  ;; Level 2 for the 8 elements at byte offset $p ($w = 4: f32, 8: f64), called by the fast loop
  ;; ($fast = 1) or an exact loop (0). Applies the group to the exact state as $upd would, element
  ;; by element: with no NaN and no -0 around, a strict `>` over the elements in order keeps
  ;; (max of the group, its first index) when that max beats the state, the state otherwise. For
  ;; the fast loop it also counts the group's mismatches (the exact loops count their own) and
  ;; refreshes the level-1 thresholds when the state changed.
  (func $check (param $p i32) (param $w i32) (param $fast i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $e0 v128) (local $e1 v128) (local $e2 v128) (local $e3 v128)
    (local $d0 v128) (local $d1 v128) (local $d2 v128) (local $d3 v128)
    (local $x0 v128) (local $x1 v128) (local $x2 v128) (local $x3 v128)
    (local $rt v128) (local $at v128) (local $m v128) (local $v f64) (local $i f64)
    (local $changed i32)
    (if (i32.eq (local.get $w) (i32.const 4))
      (then
        (local.set $a0 (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
        (local.set $a1 (f64x2.promote_low_f32x4 (v128.load64_zero offset=8 (local.get $p))))
        (local.set $a2 (f64x2.promote_low_f32x4 (v128.load64_zero offset=16 (local.get $p))))
        (local.set $a3 (f64x2.promote_low_f32x4 (v128.load64_zero offset=24 (local.get $p))))
        (local.set $e0 (f64x2.promote_low_f32x4 (v128.load64_zero offset=131072 (local.get $p))))
        (local.set $e1 (f64x2.promote_low_f32x4 (v128.load64_zero offset=131080 (local.get $p))))
        (local.set $e2 (f64x2.promote_low_f32x4 (v128.load64_zero offset=131088 (local.get $p))))
        (local.set $e3 (f64x2.promote_low_f32x4 (v128.load64_zero offset=131096 (local.get $p)))))
      (else
        (local.set $a0 (v128.load (local.get $p)))
        (local.set $a1 (v128.load offset=16 (local.get $p)))
        (local.set $a2 (v128.load offset=32 (local.get $p)))
        (local.set $a3 (v128.load offset=48 (local.get $p)))
        (local.set $e0 (v128.load offset=131072 (local.get $p)))
        (local.set $e1 (v128.load offset=131088 (local.get $p)))
        (local.set $e2 (v128.load offset=131104 (local.get $p)))
        (local.set $e3 (v128.load offset=131120 (local.get $p)))))
    (local.set $i
      (f64.add (global.get $base)
        (f64.convert_i32_u (i32.div_u (i32.sub (local.get $p) (global.get $slot)) (local.get $w)))))
    ;; |Δ| and |e| as the JS kernel has them
    (local.set $d0 (f64x2.abs (f64x2.sub (local.get $a0) (local.get $e0))))
    (local.set $d1 (f64x2.abs (f64x2.sub (local.get $a1) (local.get $e1))))
    (local.set $d2 (f64x2.abs (f64x2.sub (local.get $a2) (local.get $e2))))
    (local.set $d3 (f64x2.abs (f64x2.sub (local.get $a3) (local.get $e3))))
    (local.set $x0 (f64x2.abs (local.get $e0)))
    (local.set $x1 (f64x2.abs (local.get $e1)))
    (local.set $x2 (f64x2.abs (local.get $e2)))
    (local.set $x3 (f64x2.abs (local.get $e3)))
    ;; max |Δ| and its first index
    (local.set $v (call $max4 (local.get $d0) (local.get $d1) (local.get $d2) (local.get $d3)))
    (if (f64.gt (local.get $v) (global.get $maxAbs))
      (then
        (global.set $maxAbs (local.get $v))
        (global.set $argAbs (f64.add (local.get $i) (f64.convert_i32_u
          (call $first4 (local.get $d0) (local.get $d1) (local.get $d2) (local.get $d3) (local.get $v)))))
        (local.set $changed (i32.const 1))))
    ;; min |Δ|
    (local.set $m (f64x2.pmin (f64x2.pmin (local.get $d0) (local.get $d1)) (f64x2.pmin (local.get $d2) (local.get $d3))))
    (local.set $v (f64.min (f64x2.extract_lane 0 (local.get $m)) (f64x2.extract_lane 1 (local.get $m))))
    (if (f64.lt (local.get $v) (global.get $minAbs))
      (then
        (global.set $minAbs (local.get $v))
        (local.set $changed (i32.const 1))))
    ;; max rel: divide only when some d may exceed maxRel ae (the level-2 rel test of the header)
    (local.set $m (f64x2.splat (f64.mul (global.get $maxRel) (f64.const 0x1.ffffffffffff8p-1))))
    (local.set $e0 (f64x2.mul (local.get $x0) (local.get $m)))
    (local.set $e1 (f64x2.mul (local.get $x1) (local.get $m)))
    (local.set $e2 (f64x2.mul (local.get $x2) (local.get $m)))
    (local.set $e3 (f64x2.mul (local.get $x3) (local.get $m)))
    (local.set $m (v128.const f64x2 0x1p-1020 0x1p-1020))
    (local.set $e0 (v128.andnot (local.get $e0) (f64x2.lt (local.get $e0) (local.get $m))))
    (local.set $e1 (v128.andnot (local.get $e1) (f64x2.lt (local.get $e1) (local.get $m))))
    (local.set $e2 (v128.andnot (local.get $e2) (f64x2.lt (local.get $e2) (local.get $m))))
    (local.set $e3 (v128.andnot (local.get $e3) (f64x2.lt (local.get $e3) (local.get $m))))
    (if (i32.or (f64.eq (global.get $maxRel) (f64.const -inf))
          (v128.any_true (v128.or
            (v128.or (f64x2.gt (local.get $d0) (local.get $e0)) (f64x2.gt (local.get $d1) (local.get $e1)))
            (v128.or (f64x2.gt (local.get $d2) (local.get $e2)) (f64x2.gt (local.get $d3) (local.get $e3))))))
      (then (local.set $changed (i32.or (local.get $changed) (call $rel8
        (local.get $d0) (local.get $d1) (local.get $d2) (local.get $d3)
        (local.get $x0) (local.get $x1) (local.get $x2) (local.get $x3) (local.get $i))))))
    ;; excess = d - rtol ae, in e0..e3
    (local.set $rt (f64x2.splat (global.get $rtol)))
    (local.set $e0 (f64x2.sub (local.get $d0) (f64x2.mul (local.get $rt) (local.get $x0))))
    (local.set $e1 (f64x2.sub (local.get $d1) (f64x2.mul (local.get $rt) (local.get $x1))))
    (local.set $e2 (f64x2.sub (local.get $d2) (f64x2.mul (local.get $rt) (local.get $x2))))
    (local.set $e3 (f64x2.sub (local.get $d3) (f64x2.mul (local.get $rt) (local.get $x3))))
    (local.set $v (call $max4 (local.get $e0) (local.get $e1) (local.get $e2) (local.get $e3)))
    (if (f64.gt (local.get $v) (global.get $maxExc))
      (then
        (global.set $maxExc (local.get $v))
        (global.set $argExc (f64.add (local.get $i) (f64.convert_i32_u
          (call $first4 (local.get $e0) (local.get $e1) (local.get $e2) (local.get $e3) (local.get $v)))))
        (local.set $changed (i32.const 1))))
    (if (local.get $fast)
      (then
        ;; mismatches: excess > atol
        (local.set $at (f64x2.splat (global.get $atol)))
        (local.set $m (i64x2.add
          (i64x2.add (f64x2.gt (local.get $e0) (local.get $at)) (f64x2.gt (local.get $e1) (local.get $at)))
          (i64x2.add (f64x2.gt (local.get $e2) (local.get $at)) (f64x2.gt (local.get $e3) (local.get $at)))))
        (global.set $sMis (f64.sub (global.get $sMis)
          (f64.convert_i64_s (i64.add (i64x2.extract_lane 0 (local.get $m)) (i64x2.extract_lane 1 (local.get $m))))))
        (if (local.get $changed) (then (call $refresh))))))

  ;; Processes $len float32 pairs with the f32 level 1 (the fast loop). Returns 1 + 2 * (number of
  ;; level-2 calls) when poisoned (then the driver falls back to JS), 2 * (level-2 calls) if not:
  ;; when they are many (ties with an extreme, many mismatches) the driver uses chunk32x instead.
  ;; The hot loop handles 8 elements per iteration; the accumulators go through globals around
  ;; the level-2 calls so that the loop keeps them in registers. Level 1 compares f32 values as
  ;; i32 (same order for non-negative floats; a negative bound is below every df either way),
  ;; because integer min/max/compare do not compete with the float adds for execution ports.
  (func $chunk32 (param $len i32) (result i32)
    (local $p i32) (local $end i32)
    (local $sum v128) (local $sumE v128) (local $maxE v128) (local $minE v128)
    (local $ab v128) (local $r32 v128) (local $rt v128) (local $xs v128) (local $lb v128)
    (local $tau v128) (local $m32 v128) (local $m64 v128) (local $m v128)
    (local $A v128) (local $E v128) (local $xf v128) (local $xc v128) (local $df v128)
    (local $al v128) (local $ah v128) (local $el v128) (local $eh v128)
    (local $dl v128) (local $dh v128) (local $xl v128) (local $xh v128)
    (global.set $checks (i32.const 0))
    (local.set $p (global.get $slot))
    (local.set $end (i32.add (local.get $p)
      (i32.shl (i32.and (local.get $len) (i32.const -8)) (i32.const 2))))
    (block $exit
      (loop $outer
        (local.set $sum (global.get $vSum))
        (local.set $sumE (global.get $vSumE))
        (local.set $maxE (global.get $vMaxE32))
        (local.set $minE (global.get $vMinE32))
        (local.set $ab (global.get $gAB))
        (local.set $r32 (global.get $gR32))
        (local.set $rt (global.get $gRT))
        (local.set $xs (global.get $gXS))
        (local.set $lb (global.get $gLB))
        (local.set $tau (global.get $cTau))
        (local.set $m32 (global.get $cM32))
        (local.set $m64 (global.get $cM64))
        (block $flagged
          (block $done
            (loop $hot
              (br_if $done (i32.ge_u (local.get $p) (local.get $end)))

              ;; ---- elements p/4 .. p/4+3: level 1 and the |e| extremes on the f32 lanes
              (local.set $A (v128.load (local.get $p)))
              (local.set $E (v128.load offset=131072 (local.get $p)))
              (local.set $xf (v128.and (local.get $E) (local.get $m32)))
              (local.set $maxE (i32x4.max_s (local.get $maxE) (local.get $xf)))
              (local.set $minE (i32x4.min_s (local.get $minE) (local.get $xf)))
              (local.set $xc (v128.andnot (local.get $xf) (i32x4.lt_s (local.get $xf) (local.get $tau))))
              (local.set $df (v128.and (f32x4.sub (local.get $A) (local.get $E)) (local.get $m32)))
              ;; flag: df > min(AB, Tr, Tx) or df < LB
              (local.set $m (v128.or
                (i32x4.gt_s (local.get $df)
                  (i32x4.min_s
                    (f32x4.pmin (local.get $ab) (f32x4.mul (local.get $xc) (local.get $r32)))
                    (f32x4.add (f32x4.mul (local.get $xc) (local.get $rt)) (local.get $xs))))
                (i32x4.lt_s (local.get $df) (local.get $lb))))
              ;; sums in f64
              (local.set $al (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
              (local.set $ah (f64x2.promote_low_f32x4 (v128.load64_zero offset=8 (local.get $p))))
              (local.set $el (f64x2.promote_low_f32x4 (v128.load64_zero offset=131072 (local.get $p))))
              (local.set $eh (f64x2.promote_low_f32x4 (v128.load64_zero offset=131080 (local.get $p))))
              (local.set $dl (v128.and (f64x2.sub (local.get $al) (local.get $el)) (local.get $m64)))
              (local.set $dh (v128.and (f64x2.sub (local.get $ah) (local.get $eh)) (local.get $m64)))
              (local.set $xl (v128.and (local.get $el) (local.get $m64)))
              (local.set $xh (v128.and (local.get $eh) (local.get $m64)))
              (local.set $sum (f64x2.add (local.get $sum) (f64x2.add (local.get $dl) (local.get $dh))))
              (local.set $sumE (f64x2.add (local.get $sumE) (f64x2.add (local.get $xl) (local.get $xh))))

              ;; ---- elements p/4+4 .. p/4+7
              (local.set $A (v128.load offset=16 (local.get $p)))
              (local.set $E (v128.load offset=131088 (local.get $p)))
              (local.set $xf (v128.and (local.get $E) (local.get $m32)))
              (local.set $maxE (i32x4.max_s (local.get $maxE) (local.get $xf)))
              (local.set $minE (i32x4.min_s (local.get $minE) (local.get $xf)))
              (local.set $xc (v128.andnot (local.get $xf) (i32x4.lt_s (local.get $xf) (local.get $tau))))
              (local.set $df (v128.and (f32x4.sub (local.get $A) (local.get $E)) (local.get $m32)))
              (local.set $m (v128.or (local.get $m) (v128.or
                (i32x4.gt_s (local.get $df)
                  (i32x4.min_s
                    (f32x4.pmin (local.get $ab) (f32x4.mul (local.get $xc) (local.get $r32)))
                    (f32x4.add (f32x4.mul (local.get $xc) (local.get $rt)) (local.get $xs))))
                (i32x4.lt_s (local.get $df) (local.get $lb)))))
              (local.set $al (f64x2.promote_low_f32x4 (v128.load64_zero offset=16 (local.get $p))))
              (local.set $ah (f64x2.promote_low_f32x4 (v128.load64_zero offset=24 (local.get $p))))
              (local.set $el (f64x2.promote_low_f32x4 (v128.load64_zero offset=131088 (local.get $p))))
              (local.set $eh (f64x2.promote_low_f32x4 (v128.load64_zero offset=131096 (local.get $p))))
              (local.set $dl (v128.and (f64x2.sub (local.get $al) (local.get $el)) (local.get $m64)))
              (local.set $dh (v128.and (f64x2.sub (local.get $ah) (local.get $eh)) (local.get $m64)))
              (local.set $xl (v128.and (local.get $el) (local.get $m64)))
              (local.set $xh (v128.and (local.get $eh) (local.get $m64)))
              (local.set $sum (f64x2.add (local.get $sum) (f64x2.add (local.get $dl) (local.get $dh))))
              (local.set $sumE (f64x2.add (local.get $sumE) (f64x2.add (local.get $xl) (local.get $xh))))

              (local.set $p (i32.add (local.get $p) (i32.const 32)))
              (br_if $flagged (i32x4.bitmask (local.get $m)))
              (br $hot)))
          (global.set $vSum (local.get $sum))
          (global.set $vSumE (local.get $sumE))
          (global.set $vMaxE32 (local.get $maxE))
          (global.set $vMinE32 (local.get $minE))
          (br $exit))
        ;; one of the groups just before p was flagged
        (global.set $vSum (local.get $sum))
        (global.set $vSumE (local.get $sumE))
        (global.set $vMaxE32 (local.get $maxE))
        (global.set $vMinE32 (local.get $minE))
        (call $check (i32.sub (local.get $p) (i32.const 32)) (i32.const 4) (i32.const 1))
        (global.set $checks (i32.add (global.get $checks) (i32.const 1)))
        (br $outer)))
    (call $tail (local.get $end)
      (i32.sub (local.get $len)
        (i32.shr_u (i32.sub (local.get $end) (global.get $slot)) (i32.const 2)))
      (i32.const 4))
    (i32.or (call $poisoned) (i32.shl (global.get $checks) (i32.const 1))))

  ;; Processes $len float32 pairs with the exact f64 level 1 (as chunk64), which ties with an
  ;; extreme do not trip, and counts mismatches in the loop instead of flagging them. Returns the
  ;; status of chunk32 (level-2 calls here are new records).
  (func $chunk32x (param $len i32) (result i32)
    (local $p i32) (local $end i32)
    (local $sum v128) (local $sumE v128) (local $maxE v128) (local $minE v128) (local $mis v128)
    (local $rt v128) (local $at v128) (local $ta v128) (local $tx v128) (local $mrc v128)
    (local $tiny v128) (local $tmin v128) (local $m64 v128) (local $m v128)
    (local $m32 v128) (local $E v128) (local $xf v128)
    (local $al v128) (local $ah v128) (local $el v128) (local $eh v128)
    (local $dl v128) (local $dh v128) (local $xl v128) (local $xh v128)
    (local $cl v128) (local $ch v128) (local $tl v128) (local $th v128)
    (global.set $checks (i32.const 0))
    (local.set $p (global.get $slot))
    (local.set $end (i32.add (local.get $p)
      (i32.shl (i32.and (local.get $len) (i32.const -8)) (i32.const 2))))
    (block $exit
      (loop $outer
        (local.set $sum (global.get $vSum))
        (local.set $sumE (global.get $vSumE))
        (local.set $maxE (global.get $vMaxE32))
        (local.set $minE (global.get $vMinE32))
        (local.set $mis (global.get $vMis))
        (local.set $rt (f64x2.splat (global.get $rtol)))
        (local.set $at (f64x2.splat (global.get $atol)))
        ;; -Infinity while some statistic is unset: every group is flagged
        (local.set $ta (f64x2.splat
          (select (f64.const -inf) (global.get $maxAbs)
            (i32.or
              (f64.eq (global.get $maxAbs) (f64.const -inf))
              (i32.or
                (f64.eq (global.get $maxRel) (f64.const -inf))
                (f64.eq (global.get $maxExc) (f64.const -inf)))))))
        (local.set $tmin (f64x2.splat (global.get $minAbs)))
        (local.set $tx (f64x2.splat (global.get $maxExc)))
        (local.set $mrc (f64x2.splat (f64.mul (global.get $maxRel) (f64.const 0x1.ffffffffffff8p-1))))
        (local.set $tiny (v128.const f64x2 0x1p-1020 0x1p-1020))
        (local.set $m64 (global.get $cM64))
        (local.set $m32 (global.get $cM32))
        (block $flagged
          (block $done
            (loop $hot
              (br_if $done (i32.ge_u (local.get $p) (local.get $end)))

              ;; ---- elements p/4 .. p/4+3
              (local.set $E (v128.load offset=131072 (local.get $p)))
              (local.set $xf (v128.and (local.get $E) (local.get $m32)))
              (local.set $maxE (i32x4.max_s (local.get $maxE) (local.get $xf)))
              (local.set $minE (i32x4.min_s (local.get $minE) (local.get $xf)))
              (local.set $al (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
              (local.set $ah (f64x2.promote_low_f32x4 (v128.load64_zero offset=8 (local.get $p))))
              (local.set $el (f64x2.promote_low_f32x4 (v128.load64_zero offset=131072 (local.get $p))))
              (local.set $eh (f64x2.promote_low_f32x4 (v128.load64_zero offset=131080 (local.get $p))))
              (local.set $dl (v128.and (f64x2.sub (local.get $al) (local.get $el)) (local.get $m64)))
              (local.set $dh (v128.and (f64x2.sub (local.get $ah) (local.get $eh)) (local.get $m64)))
              (local.set $xl (v128.and (local.get $el) (local.get $m64)))
              (local.set $xh (v128.and (local.get $eh) (local.get $m64)))
              (local.set $sum (f64x2.add (local.get $sum) (f64x2.add (local.get $dl) (local.get $dh))))
              (local.set $sumE (f64x2.add (local.get $sumE) (f64x2.add (local.get $xl) (local.get $xh))))
              (local.set $cl (f64x2.sub (local.get $dl) (f64x2.mul (local.get $rt) (local.get $xl))))
              (local.set $ch (f64x2.sub (local.get $dh) (f64x2.mul (local.get $rt) (local.get $xh))))
              (local.set $mis (i64x2.sub (local.get $mis)
                (i64x2.add (f64x2.gt (local.get $cl) (local.get $at)) (f64x2.gt (local.get $ch) (local.get $at)))))
              (local.set $tl (f64x2.mul (local.get $xl) (local.get $mrc)))
              (local.set $th (f64x2.mul (local.get $xh) (local.get $mrc)))
              (local.set $tl (v128.andnot (local.get $tl) (f64x2.lt (local.get $tl) (local.get $tiny))))
              (local.set $th (v128.andnot (local.get $th) (f64x2.lt (local.get $th) (local.get $tiny))))
              (local.set $m (v128.or
                (v128.or
                  (v128.or
                    (i64x2.gt_s (local.get $dl) (f64x2.pmin (local.get $ta) (local.get $tl)))
                    (i64x2.gt_s (local.get $dh) (f64x2.pmin (local.get $ta) (local.get $th))))
                  (v128.or (f64x2.gt (local.get $cl) (local.get $tx)) (f64x2.gt (local.get $ch) (local.get $tx))))
                (v128.or (i64x2.lt_s (local.get $dl) (local.get $tmin)) (i64x2.lt_s (local.get $dh) (local.get $tmin)))))

              ;; ---- elements p/4+4 .. p/4+7
              (local.set $E (v128.load offset=131088 (local.get $p)))
              (local.set $xf (v128.and (local.get $E) (local.get $m32)))
              (local.set $maxE (i32x4.max_s (local.get $maxE) (local.get $xf)))
              (local.set $minE (i32x4.min_s (local.get $minE) (local.get $xf)))
              (local.set $al (f64x2.promote_low_f32x4 (v128.load64_zero offset=16 (local.get $p))))
              (local.set $ah (f64x2.promote_low_f32x4 (v128.load64_zero offset=24 (local.get $p))))
              (local.set $el (f64x2.promote_low_f32x4 (v128.load64_zero offset=131088 (local.get $p))))
              (local.set $eh (f64x2.promote_low_f32x4 (v128.load64_zero offset=131096 (local.get $p))))
              (local.set $dl (v128.and (f64x2.sub (local.get $al) (local.get $el)) (local.get $m64)))
              (local.set $dh (v128.and (f64x2.sub (local.get $ah) (local.get $eh)) (local.get $m64)))
              (local.set $xl (v128.and (local.get $el) (local.get $m64)))
              (local.set $xh (v128.and (local.get $eh) (local.get $m64)))
              (local.set $sum (f64x2.add (local.get $sum) (f64x2.add (local.get $dl) (local.get $dh))))
              (local.set $sumE (f64x2.add (local.get $sumE) (f64x2.add (local.get $xl) (local.get $xh))))
              (local.set $cl (f64x2.sub (local.get $dl) (f64x2.mul (local.get $rt) (local.get $xl))))
              (local.set $ch (f64x2.sub (local.get $dh) (f64x2.mul (local.get $rt) (local.get $xh))))
              (local.set $mis (i64x2.sub (local.get $mis)
                (i64x2.add (f64x2.gt (local.get $cl) (local.get $at)) (f64x2.gt (local.get $ch) (local.get $at)))))
              (local.set $tl (f64x2.mul (local.get $xl) (local.get $mrc)))
              (local.set $th (f64x2.mul (local.get $xh) (local.get $mrc)))
              (local.set $tl (v128.andnot (local.get $tl) (f64x2.lt (local.get $tl) (local.get $tiny))))
              (local.set $th (v128.andnot (local.get $th) (f64x2.lt (local.get $th) (local.get $tiny))))
              (local.set $m (v128.or (local.get $m) (v128.or
                (v128.or
                  (v128.or
                    (i64x2.gt_s (local.get $dl) (f64x2.pmin (local.get $ta) (local.get $tl)))
                    (i64x2.gt_s (local.get $dh) (f64x2.pmin (local.get $ta) (local.get $th))))
                  (v128.or (f64x2.gt (local.get $cl) (local.get $tx)) (f64x2.gt (local.get $ch) (local.get $tx))))
                (v128.or (i64x2.lt_s (local.get $dl) (local.get $tmin)) (i64x2.lt_s (local.get $dh) (local.get $tmin))))))

              (local.set $p (i32.add (local.get $p) (i32.const 32)))
              (br_if $flagged (i32x4.bitmask (local.get $m)))
              (br $hot)))
          (global.set $vSum (local.get $sum))
          (global.set $vSumE (local.get $sumE))
          (global.set $vMaxE32 (local.get $maxE))
          (global.set $vMinE32 (local.get $minE))
          (global.set $vMis (local.get $mis))
          (br $exit))
        (global.set $vSum (local.get $sum))
        (global.set $vSumE (local.get $sumE))
        (global.set $vMaxE32 (local.get $maxE))
        (global.set $vMinE32 (local.get $minE))
        (global.set $vMis (local.get $mis))
        (call $check (i32.sub (local.get $p) (i32.const 32)) (i32.const 4) (i32.const 0))
        (global.set $checks (i32.add (global.get $checks) (i32.const 1)))
        (br $outer)))
    (call $tail (local.get $end)
      (i32.sub (local.get $len)
        (i32.shr_u (i32.sub (local.get $end) (global.get $slot)) (i32.const 2)))
      (i32.const 4))
    (i32.or (call $poisoned) (i32.shl (global.get $checks) (i32.const 1))))

  ;; Processes $len float64 pairs with the exact f64 level 1 (the comparisons of non-negative
  ;; values run as i64, like chunk32's as i32); mismatches are counted in the loop. Returns the
  ;; status of chunk32.
  (func $chunk64 (param $len i32) (result i32)
    (local $p i32) (local $end i32)
    (local $sum v128) (local $sumE v128) (local $maxE v128) (local $minE v128) (local $mis v128)
    (local $rt v128) (local $at v128) (local $ta v128) (local $tx v128) (local $mrc v128)
    (local $tiny v128) (local $tmin v128) (local $m64 v128) (local $m v128)
    (local $al v128) (local $ah v128) (local $el v128) (local $eh v128)
    (local $dl v128) (local $dh v128) (local $xl v128) (local $xh v128)
    (local $cl v128) (local $ch v128) (local $tl v128) (local $th v128)
    (global.set $checks (i32.const 0))
    (local.set $p (global.get $slot))
    (local.set $end (i32.add (local.get $p)
      (i32.shl (i32.and (local.get $len) (i32.const -8)) (i32.const 3))))
    (block $exit
      (loop $outer
        (local.set $sum (global.get $vSum))
        (local.set $sumE (global.get $vSumE))
        (local.set $maxE (global.get $vMaxE))
        (local.set $minE (global.get $vMinE))
        (local.set $mis (global.get $vMis))
        (local.set $rt (f64x2.splat (global.get $rtol)))
        (local.set $at (f64x2.splat (global.get $atol)))
        ;; -Infinity while some statistic is unset: every group is flagged
        (local.set $ta (f64x2.splat
          (select (f64.const -inf) (global.get $maxAbs)
            (i32.or
              (f64.eq (global.get $maxAbs) (f64.const -inf))
              (i32.or
                (f64.eq (global.get $maxRel) (f64.const -inf))
                (f64.eq (global.get $maxExc) (f64.const -inf)))))))
        (local.set $tmin (f64x2.splat (global.get $minAbs)))
        (local.set $tx (f64x2.splat (global.get $maxExc)))
        (local.set $mrc (f64x2.splat (f64.mul (global.get $maxRel) (f64.const 0x1.ffffffffffff8p-1))))
        (local.set $tiny (v128.const f64x2 0x1p-1020 0x1p-1020))
        (local.set $m64 (global.get $cM64))
        (block $flagged
          (block $done
            (loop $hot
              (br_if $done (i32.ge_u (local.get $p) (local.get $end)))

              ;; ---- elements p/8 .. p/8+3
              (local.set $al (v128.load (local.get $p)))
              (local.set $ah (v128.load offset=16 (local.get $p)))
              (local.set $el (v128.load offset=131072 (local.get $p)))
              (local.set $eh (v128.load offset=131088 (local.get $p)))
              (local.set $dl (v128.and (f64x2.sub (local.get $al) (local.get $el)) (local.get $m64)))
              (local.set $dh (v128.and (f64x2.sub (local.get $ah) (local.get $eh)) (local.get $m64)))
              (local.set $xl (v128.and (local.get $el) (local.get $m64)))
              (local.set $xh (v128.and (local.get $eh) (local.get $m64)))
              (local.set $sum (f64x2.add (local.get $sum) (f64x2.add (local.get $dl) (local.get $dh))))
              (local.set $sumE (f64x2.add (local.get $sumE) (f64x2.add (local.get $xl) (local.get $xh))))
              (local.set $maxE (f64x2.pmax (local.get $maxE) (f64x2.pmax (local.get $xl) (local.get $xh))))
              (local.set $minE (f64x2.pmin (local.get $minE) (f64x2.pmin (local.get $xl) (local.get $xh))))
              (local.set $cl (f64x2.sub (local.get $dl) (f64x2.mul (local.get $rt) (local.get $xl))))
              (local.set $ch (f64x2.sub (local.get $dh) (f64x2.mul (local.get $rt) (local.get $xh))))
              (local.set $mis (i64x2.sub (local.get $mis)
                (i64x2.add (f64x2.gt (local.get $cl) (local.get $at)) (f64x2.gt (local.get $ch) (local.get $at)))))
              (local.set $tl (f64x2.mul (local.get $xl) (local.get $mrc)))
              (local.set $th (f64x2.mul (local.get $xh) (local.get $mrc)))
              (local.set $tl (v128.andnot (local.get $tl) (f64x2.lt (local.get $tl) (local.get $tiny))))
              (local.set $th (v128.andnot (local.get $th) (f64x2.lt (local.get $th) (local.get $tiny))))
              (local.set $m (v128.or
                (v128.or
                  (v128.or
                    (i64x2.gt_s (local.get $dl) (f64x2.pmin (local.get $ta) (local.get $tl)))
                    (i64x2.gt_s (local.get $dh) (f64x2.pmin (local.get $ta) (local.get $th))))
                  (v128.or (f64x2.gt (local.get $cl) (local.get $tx)) (f64x2.gt (local.get $ch) (local.get $tx))))
                (v128.or (i64x2.lt_s (local.get $dl) (local.get $tmin)) (i64x2.lt_s (local.get $dh) (local.get $tmin)))))

              ;; ---- elements p/8+4 .. p/8+7
              (local.set $al (v128.load offset=32 (local.get $p)))
              (local.set $ah (v128.load offset=48 (local.get $p)))
              (local.set $el (v128.load offset=131104 (local.get $p)))
              (local.set $eh (v128.load offset=131120 (local.get $p)))
              (local.set $dl (v128.and (f64x2.sub (local.get $al) (local.get $el)) (local.get $m64)))
              (local.set $dh (v128.and (f64x2.sub (local.get $ah) (local.get $eh)) (local.get $m64)))
              (local.set $xl (v128.and (local.get $el) (local.get $m64)))
              (local.set $xh (v128.and (local.get $eh) (local.get $m64)))
              (local.set $sum (f64x2.add (local.get $sum) (f64x2.add (local.get $dl) (local.get $dh))))
              (local.set $sumE (f64x2.add (local.get $sumE) (f64x2.add (local.get $xl) (local.get $xh))))
              (local.set $maxE (f64x2.pmax (local.get $maxE) (f64x2.pmax (local.get $xl) (local.get $xh))))
              (local.set $minE (f64x2.pmin (local.get $minE) (f64x2.pmin (local.get $xl) (local.get $xh))))
              (local.set $cl (f64x2.sub (local.get $dl) (f64x2.mul (local.get $rt) (local.get $xl))))
              (local.set $ch (f64x2.sub (local.get $dh) (f64x2.mul (local.get $rt) (local.get $xh))))
              (local.set $mis (i64x2.sub (local.get $mis)
                (i64x2.add (f64x2.gt (local.get $cl) (local.get $at)) (f64x2.gt (local.get $ch) (local.get $at)))))
              (local.set $tl (f64x2.mul (local.get $xl) (local.get $mrc)))
              (local.set $th (f64x2.mul (local.get $xh) (local.get $mrc)))
              (local.set $tl (v128.andnot (local.get $tl) (f64x2.lt (local.get $tl) (local.get $tiny))))
              (local.set $th (v128.andnot (local.get $th) (f64x2.lt (local.get $th) (local.get $tiny))))
              (local.set $m (v128.or (local.get $m) (v128.or
                (v128.or
                  (v128.or
                    (i64x2.gt_s (local.get $dl) (f64x2.pmin (local.get $ta) (local.get $tl)))
                    (i64x2.gt_s (local.get $dh) (f64x2.pmin (local.get $ta) (local.get $th))))
                  (v128.or (f64x2.gt (local.get $cl) (local.get $tx)) (f64x2.gt (local.get $ch) (local.get $tx))))
                (v128.or (i64x2.lt_s (local.get $dl) (local.get $tmin)) (i64x2.lt_s (local.get $dh) (local.get $tmin))))))

              (local.set $p (i32.add (local.get $p) (i32.const 64)))
              (br_if $flagged (i32x4.bitmask (local.get $m)))
              (br $hot)))
          (global.set $vSum (local.get $sum))
          (global.set $vSumE (local.get $sumE))
          (global.set $vMaxE (local.get $maxE))
          (global.set $vMinE (local.get $minE))
          (global.set $vMis (local.get $mis))
          (br $exit))
        (global.set $vSum (local.get $sum))
        (global.set $vSumE (local.get $sumE))
        (global.set $vMaxE (local.get $maxE))
        (global.set $vMinE (local.get $minE))
        (global.set $vMis (local.get $mis))
        (call $check (i32.sub (local.get $p) (i32.const 64)) (i32.const 8) (i32.const 0))
        (global.set $checks (i32.add (global.get $checks) (i32.const 1)))
        (br $outer)))
    (call $tail (local.get $end)
      (i32.sub (local.get $len)
        (i32.shr_u (i32.sub (local.get $end) (global.get $slot)) (i32.const 3)))
      (i32.const 8))
    (i32.or (call $poisoned) (i32.shl (global.get $checks) (i32.const 1))))

;; One chunk of $len float32 pairs at byte $addr whose first element has flat index $base,
  ;; through the loop $mode asks for. Returns 0, 1 when poisoned (the driver reruns the JS kernel),
  ;; 2 when the driver should hand the rest of the pair to the JS kernel (below).
  ;; auto: the fast loop, switching to the exact loop for $exactLeft chunks after a fast chunk
  ;; where more than 1/8 of the groups needed level 2 (costlier than the exact loop): 16 chunks,
  ;; then twice as many each time the fast loop, tried again, still needs many checks (up to
  ;; 1024). When the exact loop itself still checks more than half of the groups (nearly every
  ;; element a new record, e.g. a ramp against zeros: the JS kernel's branches are then all
  ;; predictable and it is faster), it returns 2.
  (func (export "step32") (param $addr i32) (param $len i32) (param $base f64) (result i32)
    (local $s i32)
    (global.set $slot (local.get $addr))
    (global.set $base (local.get $base))
    (if (i32.or (i32.eq (global.get $mode) (i32.const 2)) (i32.gt_s (global.get $exactLeft) (i32.const 0)))
      (then
        (if (i32.gt_s (global.get $exactLeft) (i32.const 0))
          (then (global.set $exactLeft (i32.sub (global.get $exactLeft) (i32.const 1)))))
        (local.set $s (call $chunk32x (local.get $len)))
        (if (i32.and (local.get $s) (i32.const 1)) (then (return (i32.const 1))))
        (return (i32.shl
          (i32.and (i32.eqz (global.get $mode))
            (i32.gt_u (i32.shl (i32.shr_u (local.get $s) (i32.const 1)) (i32.const 4)) (local.get $len)))
          (i32.const 1)))))
    (local.set $s (call $chunk32 (local.get $len)))
    (if (i32.and (local.get $s) (i32.const 1)) (then (return (i32.const 1))))
    (if (i32.and (i32.eqz (global.get $mode))
          (i32.gt_u (i32.shl (i32.shr_u (local.get $s) (i32.const 1)) (i32.const 6)) (local.get $len)))
      (then
        (global.set $exactLeft (global.get $exactSpan))
        (global.set $exactSpan
          (select (i32.const 1024) (i32.shl (global.get $exactSpan) (i32.const 1))
            (i32.ge_u (global.get $exactSpan) (i32.const 512)))))
      (else (global.set $exactSpan (i32.const 16))))
    (i32.const 0))

  ;; step32 for float64 pairs: always the exact loop, same return values.
  (func (export "step64") (param $addr i32) (param $len i32) (param $base f64) (result i32)
    (local $s i32)
    (global.set $slot (local.get $addr))
    (global.set $base (local.get $base))
    (local.set $s (call $chunk64 (local.get $len)))
    (if (i32.and (local.get $s) (i32.const 1)) (then (return (i32.const 1))))
    (i32.shl
      (i32.and (i32.eqz (global.get $mode))
        (i32.gt_u (i32.shl (i32.shr_u (local.get $s) (i32.const 1)) (i32.const 4)) (local.get $len)))
      (i32.const 1)))

    ;; Writes the reduced statistics as f64 at byte $out:
  ;; 0 sumAbs, 1 maxAbs, 2 argMaxAbs, 3 minAbs, 4 maxRel, 5 argMaxRel, 6 maxExcess,
  ;; 7 argMaxExcess, 8 mismatches, 9 sumAbsExpected, 10 maxAbsExpected, 11 minAbsExpected
  (func (export "finish") (param $out i32)
    (f64.store (local.get $out)
      (f64.add (global.get $sSum)
        (f64.add (f64x2.extract_lane 0 (global.get $vSum)) (f64x2.extract_lane 1 (global.get $vSum)))))
    (f64.store offset=8 (local.get $out) (global.get $maxAbs))
    (f64.store offset=16 (local.get $out) (global.get $argAbs))
    (f64.store offset=24 (local.get $out) (global.get $minAbs))
    (f64.store offset=32 (local.get $out) (global.get $maxRel))
    (f64.store offset=40 (local.get $out) (global.get $argRel))
    (f64.store offset=48 (local.get $out) (global.get $maxExc))
    (f64.store offset=56 (local.get $out) (global.get $argExc))
    (f64.store offset=64 (local.get $out)
      (f64.add (global.get $sMis)
        (f64.convert_i64_s
          (i64.add (i64x2.extract_lane 0 (global.get $vMis)) (i64x2.extract_lane 1 (global.get $vMis))))))
    (f64.store offset=72 (local.get $out)
      (f64.add (global.get $sSumE)
        (f64.add (f64x2.extract_lane 0 (global.get $vSumE)) (f64x2.extract_lane 1 (global.get $vSumE)))))
    (f64.store offset=80 (local.get $out) (call $maxE))
    (f64.store offset=88 (local.get $out) (call $minE))))
