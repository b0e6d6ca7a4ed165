/**
 * The second thread of the SIMD kernel: what it runs, and the shared-memory protocol between it
 * and the main thread (the driver in index.ts).
 *
 * How the worker is started: `new Worker(workerSource(), { eval: true, workerData })`, i.e. the
 * source of {@link workerMain} (via Function.prototype.toString), not a file. A worker file would
 * have to exist as JavaScript next to the module that starts it: `dist/compare/kernel/worker.js`
 * from `tsc`, but under Vitest the modules run from `src/*.ts` (transformed in memory by Vite,
 * which a Worker does not go through) and there is no `src/.../worker.js`; a bundler that inlines
 * the package would lose the file as well. The function text is the same JavaScript wherever
 * this module runs: emitted by tsc in `dist`, type-stripped by Vite under Vitest. So
 * {@link workerMain} must be self-contained: no import, no closure over module bindings, nothing
 * from outside but `workerData` (its argument) and the globals `Atomics`, `performance` and
 * `WebAssembly`.
 * Should some transform break that anyway (e.g. coverage instrumentation that injects counters
 * into function bodies), the worker fails to start and the kernel stays single-threaded: it
 * never waits for a worker that did not say it is ready.
 *
 * The protocol (all words Int32 in the shared memory, at {@link Layout.ctl}):
 * - STATE: BOOTING, then READY once the worker has its wasm instance (or FAILED).
 * - A job is one pairStats call. The main thread writes its parameters (atol, rtol as f64 at
 *   {@link Layout.params}; IS32, MODE), resets the other words, sets OPEN and JOB to the job's
 *   number (one more than the last). The worker, woken by JOB, takes the job by a
 *   compare-exchange of OPEN from the number to its opposite. The main thread may cancel a job
 *   the worker has not taken yet (a compare-exchange of OPEN to 0), once it has run every chunk
 *   itself: it then does not wait for a worker that may take milliseconds to wake up.
 * - The chunks go through a FIFO queue of ringSlots slots: queue entry q is in slot q mod
 *   ringSlots, with its length and the flat index of its first element at {@link Layout.desc}.
 *   POSTED = 2·(entries posted) + (1 once the job is closed: no more entries). A thread takes
 *   the next entry with a compare-exchange of CLAIMED (the number of entries taken), runs it and
 *   increments WORKED (entries the worker ran). Until the close only the worker takes entries,
 *   so it runs them in order, and the main thread posts entry q only when WORKED > q -
 *   ringSlots, i.e. when the slot is free; when the queue is full it runs the chunk itself, in
 *   its own slot. After the close it takes the entries left, so that it only waits for the one
 *   the worker is running, and runs them with a second instance of its own (they come before
 *   chunks its first instance ran). Each instance thus sees its chunks in increasing element
 *   order, which is what its first-index ties need.
 * - FLAGS |= the status of each chunk: 1 = a non-finite value (the main thread stops and reruns
 *   the JS kernel), 2 = hand the rest of the pair to the JS kernel. Every posted entry is still
 *   run, so that the chunks done by the two threads form a prefix of the pair.
 * - Once the job is closed and no entry is left to take, the worker writes its statistics at
 *   {@link Layout.result} (`finish`) and sets ACK to the job's number.
 */

/** Where things are in the shared memory; byte offsets unless said otherwise. */
export interface Layout {
  /** The Int32 control words, indexed by the constants below. */
  ctl: number
  ctlWords: number
  /** atol, rtol: f64. */
  params: number
  /** Per ring slot: length and flat index of the chunk's first element, f64. */
  desc: number
  /** The main thread's own chunk slot. */
  mainSlot: number
  /** The worker's slots: ring + i · slotBytes. */
  ring: number
  ringSlots: number
  slotBytes: number
  /**
   * Batch jobs (KIND = 1, see batch.ts): per ring slot, 6 f64 at bdesc (length, flat index of
   * the first element, atol, rtol, 1 for float32, then the step's status, written by whoever
   * ran it) and the 12 f64 of `finish` at bresult. Each entry is a piece of its own, with its
   * own init and finish.
   */
  bdesc: number
  bresult: number
  /** The statistics of `finish`, 12 f64 each: main thread, its tail instance, worker. */
  mainResult: number
  tailResult: number
  result: number
  /** Control word indices and values. */
  STATE: number
  JOB: number
  OPEN: number
  IS32: number
  MODE: number
  /** 0: one pair in chunks (the entries of one instance); 1: a batch of pieces. */
  KIND: number
  POSTED: number
  CLAIMED: number
  WORKED: number
  FLAGS: number
  ACK: number
  BOOTING: number
  READY: number
  FAILED: number
  /**
   * How long (ms) a thread polls before it sleeps in Atomics.wait, when the worker finds no
   * entry to take during a job, or the main thread waits for the worker's last chunk. Waking a
   * sleeping thread can take milliseconds when its core went idle (in a VM especially), while
   * the next entry or the last chunk normally comes within tens of microseconds.
   */
  spinMs: number
  /** How long (ms) the worker polls for the next job after one before it sleeps. */
  idleSpinMs: number
}

/** What the worker gets as `workerData`. */
export interface WorkerData {
  /** The compiled pair-stats module (a WebAssembly.Module: structured-cloned, not recompiled). */
  module: object
  /** The shared WebAssembly.Memory the module imports. */
  memory: { buffer: SharedArrayBuffer }
  layout: Layout
}

/** The functions of the pair-stats module, on either thread. */
export interface KernelExports {
  init(atol: number, rtol: number, mode: number): void
  step32(addr: number, len: number, base: number): number
  step64(addr: number, len: number, base: number): number
  finish(out: number): void
}

/** The worker's whole program (see the header: it must not use anything outside itself). */
export function workerMain(data: WorkerData): void {
  const { module, memory, layout: L } = data
  const ctl = new Int32Array(memory.buffer, L.ctl, L.ctlWords)
  const f64 = new Float64Array(memory.buffer)
  let ex: KernelExports
  try {
    const wasm = (
      globalThis as unknown as {
        WebAssembly: { Instance: new (m: object, i: object) => { exports: unknown } }
      }
    ).WebAssembly
    ex = new wasm.Instance(module, { env: { memory } }).exports as KernelExports
  } catch (err) {
    Atomics.store(ctl, L.STATE, L.FAILED)
    throw err
  }
  // Warm up: a fresh instance runs its first calls in V8's baseline tier, several times slower
  // than the optimised code it tiers up to; so run the loops over the (idle: no job before
  // READY) ring for a while first, the results discarded.
  const t0 = performance.now()
  for (let r = 0; r < 400 && performance.now() - t0 < 40; r++) {
    ex.init(1e-5, 1e-5, r % 3)
    ex.step32(L.ring, 4096, 0)
    if (r % 3 === 0) ex.step64(L.ring, 2048, 0)
  }
  // read JOB before saying READY: the main thread starts a job only once it sees READY
  let job = Atomics.load(ctl, L.JOB)
  Atomics.store(ctl, L.STATE, L.READY)
  try {
    for (let spin = false; ; spin = true) {
      if (spin) {
        // the next job often comes soon (a test comparing record after record): poll for it
        // for idleSpinMs before sleeping, as waking a sleeping thread can take milliseconds
        const idle = performance.now()
        while (Atomics.load(ctl, L.JOB) === job && performance.now() - idle < L.idleSpinMs) {}
      }
      // idle between jobs: blocked, no CPU used (the thread is unref'd: it never keeps the
      // process alive)
      Atomics.wait(ctl, L.JOB, job)
      const next = Atomics.load(ctl, L.JOB)
      if (next === job) continue
      job = next
      // take the job, unless the main thread already did it all and cancelled it (having
      // woken up too late, poll for the next one as after a job)
      if (Atomics.compareExchange(ctl, L.OPEN, job, -job) !== job) continue
      const is32 = Atomics.load(ctl, L.IS32) === 1
      const batch = Atomics.load(ctl, L.KIND) === 1
      const mode = ctl[L.MODE] as number
      if (!batch) ex.init(f64[L.params / 8] as number, f64[L.params / 8 + 1] as number, mode)
      let idleSince = -1
      let worked = 0
      for (;;) {
        const posted = Atomics.load(ctl, L.POSTED)
        const q = Atomics.load(ctl, L.CLAIMED)
        if (q < posted >> 1) {
          if (Atomics.compareExchange(ctl, L.CLAIMED, q, q + 1) !== q) continue
          const slot = q % L.ringSlots
          const addr = L.ring + slot * L.slotBytes
          if (batch) {
            // a piece of its own: init, step, finish into the slot's result
            const d = L.bdesc / 8 + 6 * slot
            ex.init(f64[d + 2] as number, f64[d + 3] as number, mode)
            const len = f64[d] as number
            const base = f64[d + 1] as number
            f64[d + 5] = f64[d + 4] === 1 ? ex.step32(addr, len, base) : ex.step64(addr, len, base)
            ex.finish(L.bresult + 96 * slot)
            Atomics.store(ctl, L.WORKED, ++worked)
            idleSince = -1
            continue
          }
          const len = f64[L.desc / 8 + 2 * slot] as number
          const base = f64[L.desc / 8 + 2 * slot + 1] as number
          const status = is32 ? ex.step32(addr, len, base) : ex.step64(addr, len, base)
          if (status !== 0) Atomics.or(ctl, L.FLAGS, status)
          Atomics.store(ctl, L.WORKED, ++worked)
          idleSince = -1
        } else if (posted & 1) {
          break
        } else if (idleSince < 0) {
          idleSince = performance.now()
        } else if (performance.now() - idleSince > L.spinMs) {
          // nothing to take for a while: sleep until the next post (or the close)
          Atomics.wait(ctl, L.POSTED, posted)
          idleSince = -1
        }
      }
      if (!batch) ex.finish(L.result)
      Atomics.store(ctl, L.ACK, job)
      Atomics.notify(ctl, L.ACK)
    }
  } catch (err) {
    Atomics.store(ctl, L.STATE, L.FAILED)
    Atomics.notify(ctl, L.ACK)
    throw err
  }
}

/** The code of the eval worker: {@link workerMain} applied to its workerData. */
export function workerSource(): string {
  return `(${workerMain.toString()})(require('node:worker_threads').workerData)`
}
