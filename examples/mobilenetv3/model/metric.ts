/**
 * The metric side of the port: top-k accuracy in percent, as the recipe's `accuracy` computes it
 * with torch (../reference/stages.py), and the margin that says when argmax cannot flip.
 *
 * On tied logits (a quantized model's, or integers) the accuracy depends on WHICH of the tied
 * classes `topk` returns, and torch 1.13's CPU `topk` returns them in the order of libstdc++'s
 * unstable `std::nth_element` / `std::partial_sort` and `std::sort`. No JS sort reproduces that
 * order (`Array.prototype.sort` is stable), so {@link topk} is a small faithful port of torch's
 * `topk_impl_loop` (aten/src/ATen/native/TopKImpl.h) over a port of the GCC 12 libstdc++
 * algorithms it calls (bits/stl_algo.h, bits/stl_heap.h).
 */

/** A named porting mistake in the metric, for the negative control:
 * - `stable-ties`: `topk` as a stable sort (ties broken by the lowest index first), what a
 *   port using `Array.prototype.sort` or `tf.topk` does.
 */
export type MetricBug = 'stable-ties'

/** Every {@link MetricBug}. */
export const METRIC_BUGS: readonly MetricBug[] = ['stable-ties']

/** Options of {@link topk} and {@link accuracy}. */
export interface AccuracyOptions {
  /** `torch` (default): torch's tie order; `stable`: the {@link MetricBug} `stable-ties`. */
  ties?: 'torch' | 'stable'
}

/**
 * The indices of the `k` largest values of each row of a row-major `(rows, cols)` matrix,
 * largest first: torch 1.13 CPU's `values.topk(k, dim=1, largest=True, sorted=True)[1]`, ties
 * (and NaNs, which rank above every number) in torch's order; with `ties: 'stable'`, the
 * {@link MetricBug} ({@link topkStable}). Returns `(rows, k)` row-major.
 *
 * torch's order depends on k, not only on the values: on tied rows `topk(1)` need not be the
 * first column of `topk(5)` (the recipe's top-1 is the latter: it takes `topk(max(topks))`).
 */
export function topk(
  values: Float32Array,
  rows: number,
  cols: number,
  k: number,
  options: AccuracyOptions = {},
): Int32Array {
  const { ties = 'torch' } = options
  if (ties === 'stable') return topkStable(values, rows, cols, k)
  if (ties !== 'torch') throw new RangeError(`unknown tie order '${ties}'; known: torch, stable`)
  checkMatrix(values, rows, cols, k)
  const out = new Int32Array(rows * k)
  const v = new Float64Array(cols)
  const ix = new Int32Array(cols)
  const q: Queue = { v, ix }
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < cols; j++) {
      v[j] = values[r * cols + j] as number
      ix[j] = j
    }
    if (k * 64 <= cols) {
      partialSort(q, 0, k, cols)
    } else {
      nthElement(q, 0, k - 1, cols)
      sort(q, 0, k - 1)
    }
    out.set(ix.subarray(0, k), r * k)
  }
  return out
}

/**
 * {@link topk} with ties broken by the lowest index first (a stable sort by value, largest
 * first, NaN on top): the order a port gets from `Array.prototype.sort`.
 */
export function topkStable(
  values: Float32Array,
  rows: number,
  cols: number,
  k: number,
): Int32Array {
  checkMatrix(values, rows, cols, k)
  const out = new Int32Array(rows * k)
  for (let r = 0; r < rows; r++) {
    const row = values.subarray(r * cols, (r + 1) * cols)
    const order = Array.from({ length: cols }, (_, j) => j)
    const rank = (a: number, b: number): number => {
      const x = row[a] as number
      const y = row[b] as number
      return above(x, y) ? -1 : above(y, x) ? 1 : a - b
    }
    order.sort(rank)
    for (let j = 0; j < k; j++) out[r * k + j] = order[j] as number
  }
  return out
}

/**
 * Top-k accuracy in percent of `(rows, cols)` logits against integer labels, one float32 number
 * per entry of `topks`, as the recipe's `accuracy` computes it with torch: the predictions are
 * `topk(max(topks))`, a row is correct for k when its label is among the first k, and the
 * percent is `correct.sum(dtype=float32) * (100.0 / batch_size)`. torch multiplies a float32
 * tensor by a Python float by first casting the scalar to float32, so the value is
 * `fround(count * fround(100 / rows))` (checked against torch 1.13 for 2,507 (count, batch
 * size) pairs; the double product rounded once differs in 220 of them).
 */
export function accuracy(
  logits: Float32Array,
  labels: ArrayLike<number | bigint>,
  rows: number,
  cols: number,
  topks: readonly number[] = [1, 5],
  options: AccuracyOptions = {},
): number[] {
  if (labels.length !== rows) {
    throw new RangeError(`${labels.length} labels for ${rows} rows`)
  }
  if (topks.length === 0 || topks.some((k) => !Number.isInteger(k) || k < 1 || k > cols)) {
    throw new RangeError(`top-k values must be integers 1..${cols}, got [${topks.join(', ')}]`)
  }
  const maxk = Math.max(...topks)
  const pred = topk(logits, rows, cols, maxk, options)
  const scale = Math.fround(100 / rows)
  return topks.map((k) => {
    let count = 0
    for (let r = 0; r < rows; r++) {
      const label = Number(labels[r])
      for (let j = 0; j < k; j++) {
        if (pred[r * maxk + j] === label) {
          count++
          break
        }
      }
    }
    // the product of two float32 numbers is exact in double: rounding it once is float32's
    return Math.fround(count * scale)
  })
}

/**
 * The smallest gap between the largest and the second-largest logit over the rows of a
 * `(rows, cols)` matrix (`cols >= 2`): a perturbation of every logit by less than half of it
 * cannot change any row's argmax. 0 when some row has a tie at the top.
 */
export function minTop2Gap(logits: Float32Array, rows: number, cols: number): number {
  if (cols < 2) throw new RangeError(`a top-2 gap needs 2 columns or more, got ${cols}`)
  checkMatrix(logits, rows, cols, 2)
  let min = Number.POSITIVE_INFINITY
  for (let r = 0; r < rows; r++) {
    let first = Number.NEGATIVE_INFINITY
    let second = Number.NEGATIVE_INFINITY
    for (let j = 0; j < cols; j++) {
      const x = logits[r * cols + j] as number
      if (Number.isNaN(x)) throw new RangeError(`NaN logit at row ${r}, column ${j}`)
      if (x > first) {
        second = first
        first = x
      } else if (x > second) {
        second = x
      }
    }
    min = Math.min(min, first - second)
  }
  return min
}

function checkMatrix(values: Float32Array, rows: number, cols: number, k: number): void {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols < 1) {
    throw new RangeError(`bad matrix shape (${rows}, ${cols})`)
  }
  if (values.length !== rows * cols) {
    throw new RangeError(`${values.length} values for a (${rows}, ${cols}) matrix`)
  }
  if (!Number.isInteger(k) || k < 1 || k > cols) {
    throw new RangeError(`k must be an integer 1..${cols}, got ${k}`)
  }
}

// ---------------------------------------------------------------------------------------------
// libstdc++ (GCC 12), on a queue of (value, index) pairs compared by value only, with torch's
// comparator for `largest`. Positions are plain numbers; `last` is one past the end.

interface Queue {
  v: Float64Array
  ix: Int32Array
}

/** torch's `largest` comparator: NaN above every number, else `>`. */
const above = (a: number, b: number): boolean => (Number.isNaN(a) && !Number.isNaN(b)) || a > b

const comp = (q: Queue, i: number, j: number): boolean => above(q.v[i] as number, q.v[j] as number)

function swap(q: Queue, i: number, j: number): void {
  const v = q.v[i] as number
  const x = q.ix[i] as number
  q.v[i] = q.v[j] as number
  q.ix[i] = q.ix[j] as number
  q.v[j] = v
  q.ix[j] = x
}

function move(q: Queue, to: number, from: number): void {
  q.v[to] = q.v[from] as number
  q.ix[to] = q.ix[from] as number
}

/** `std::__lg`: floor(log2(n)), n > 0. */
const lg = (n: number): number => 31 - Math.clz32(n)

/** `std::nth_element` → `std::__introselect`. */
function nthElement(q: Queue, first: number, nth: number, last: number): void {
  if (first === last || nth === last) return
  let depth = lg(last - first) * 2
  while (last - first > 3) {
    if (depth === 0) {
      heapSelect(q, first, nth + 1, last)
      swap(q, first, nth) // places the nth element
      return
    }
    depth--
    const cut = unguardedPartitionPivot(q, first, last)
    if (cut <= nth) first = cut
    else last = cut
  }
  insertionSort(q, first, last)
}

/** `std::sort` → `std::__introsort_loop` then `std::__final_insertion_sort`. */
function sort(q: Queue, first: number, last: number): void {
  if (first === last) return
  introsortLoop(q, first, last, lg(last - first) * 2)
  if (last - first > THRESHOLD) {
    insertionSort(q, first, first + THRESHOLD)
    for (let i = first + THRESHOLD; i < last; i++) unguardedLinearInsert(q, i)
  } else {
    insertionSort(q, first, last)
  }
}

/** `_S_threshold`. */
const THRESHOLD = 16

function introsortLoop(q: Queue, first: number, last: number, depth: number): void {
  while (last - first > THRESHOLD) {
    if (depth === 0) {
      partialSort(q, first, last, last)
      return
    }
    depth--
    const cut = unguardedPartitionPivot(q, first, last)
    introsortLoop(q, cut, last, depth)
    last = cut
  }
}

/** `std::partial_sort` → `std::__heap_select` then `std::__sort_heap`. */
function partialSort(q: Queue, first: number, middle: number, last: number): void {
  heapSelect(q, first, middle, last)
  for (let end = middle; end - first > 1; ) {
    end--
    popHeap(q, first, end, end)
  }
}

function unguardedPartitionPivot(q: Queue, first: number, last: number): number {
  const mid = first + Math.trunc((last - first) / 2)
  moveMedianToFirst(q, first, first + 1, mid, last - 1)
  return unguardedPartition(q, first + 1, last, first)
}

function moveMedianToFirst(q: Queue, result: number, a: number, b: number, c: number): void {
  if (comp(q, a, b)) {
    if (comp(q, b, c)) swap(q, result, b)
    else if (comp(q, a, c)) swap(q, result, c)
    else swap(q, result, a)
  } else if (comp(q, a, c)) swap(q, result, a)
  else if (comp(q, b, c)) swap(q, result, c)
  else swap(q, result, b)
}

function unguardedPartition(q: Queue, first: number, last: number, pivot: number): number {
  for (;;) {
    while (comp(q, first, pivot)) first++
    last--
    while (comp(q, pivot, last)) last--
    if (!(first < last)) return first
    swap(q, first, last)
    first++
  }
}

function insertionSort(q: Queue, first: number, last: number): void {
  if (first === last) return
  for (let i = first + 1; i < last; i++) {
    if (comp(q, i, first)) {
      const v = q.v[i] as number
      const x = q.ix[i] as number
      for (let j = i; j > first; j--) move(q, j, j - 1) // move_backward
      q.v[first] = v
      q.ix[first] = x
    } else {
      unguardedLinearInsert(q, i)
    }
  }
}

function unguardedLinearInsert(q: Queue, last: number): void {
  const v = q.v[last] as number
  const x = q.ix[last] as number
  let next = last - 1
  while (above(v, q.v[next] as number)) {
    move(q, last, next)
    last = next
    next--
  }
  q.v[last] = v
  q.ix[last] = x
}

// bits/stl_heap.h: a heap on [first, last) by `comp` (its top is the "least" by torch's order)

function heapSelect(q: Queue, first: number, middle: number, last: number): void {
  makeHeap(q, first, middle)
  for (let i = middle; i < last; i++) if (comp(q, i, first)) popHeap(q, first, middle, i)
}

function makeHeap(q: Queue, first: number, last: number): void {
  const len = last - first
  if (len < 2) return
  for (let parent = Math.trunc((len - 2) / 2); ; parent--) {
    adjustHeap(q, first, parent, len, q.v[first + parent] as number, q.ix[first + parent] as number)
    if (parent === 0) return
  }
}

/** `std::__pop_heap(first, last, result)`: the top goes to `result`, `*result` into the heap. */
function popHeap(q: Queue, first: number, last: number, result: number): void {
  const v = q.v[result] as number
  const x = q.ix[result] as number
  move(q, result, first)
  adjustHeap(q, first, 0, last - first, v, x)
}

function adjustHeap(q: Queue, first: number, hole: number, len: number, v: number, x: number) {
  const top = hole
  let child = hole
  while (child < Math.trunc((len - 1) / 2)) {
    child = 2 * (child + 1)
    if (comp(q, first + child, first + (child - 1))) child--
    move(q, first + hole, first + child)
    hole = child
  }
  if ((len & 1) === 0 && child === Math.trunc((len - 2) / 2)) {
    child = 2 * (child + 1)
    move(q, first + hole, first + (child - 1))
    hole = child - 1
  }
  // std::__push_heap(first, hole, top, value)
  let parent = Math.trunc((hole - 1) / 2)
  while (hole > top && above(q.v[first + parent] as number, v)) {
    move(q, first + hole, first + parent)
    hole = parent
    parent = Math.trunc((hole - 1) / 2)
  }
  q.v[first + hole] = v
  q.ix[first + hole] = x
}
