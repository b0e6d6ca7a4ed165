/**
 * Side-by-side timing in one time window: each side is a child process (ours in Node, numpy in
 * Python) that loads its data once and then runs named measurements on request, one per line on
 * stdin, answering with the milliseconds it took. The parent alternates the two sides round by
 * round (and which goes first), so a load change on this shared machine lands on both alike.
 * Run one side to the end and then the other, as these benchmarks did before, and a neighbour's
 * job starting in between moved the ratio by 15-30% between two runs of the same code.
 *
 * Why a hand-rolled protocol: tinybench and vitest bench time functions of one process; the
 * peer here is another language's process.
 */
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'

/**
 * A child that answers `name` lines with one line each: the milliseconds `name` took, or
 * `error: ...`. The child prints `ready` once its data is loaded.
 *
 * @param {string} command
 * @param {string[]} args
 */
export async function startSide(command, args) {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'] })
  const lines = createInterface({ input: child.stdout })
  /** @type {((line: string) => void)[]} */
  const waiting = []
  /** @type {string[]} */
  const early = []
  lines.on('line', (line) => {
    const w = waiting.shift()
    if (w) w(line)
    else early.push(line)
  })
  const exited = new Promise((_, reject) =>
    child.on('exit', (code) => reject(new Error(`${command} exited with ${code}`))),
  )
  exited.catch(() => {})
  /** @returns {Promise<string>} */
  const next = () =>
    early.length > 0
      ? Promise.resolve(/** @type {string} */ (early.shift()))
      : Promise.race([new Promise((r) => waiting.push(r)), exited])
  const ready = await next()
  if (ready !== 'ready') throw new Error(`${command}: expected "ready", got ${ready}`)
  return {
    /** @param {string} name */
    async time(name) {
      child.stdin.write(`${name}\n`)
      const line = await next()
      const ms = Number(line)
      if (!Number.isFinite(ms)) throw new Error(`${command} ${name}: ${line}`)
      return ms
    },
    close() {
      child.stdin.end()
    },
  }
}

/**
 * Best of `runs` after `warm` warm-ups of each of the measurements, the sides taking turns: in
 * round i, side (i mod 2) goes first. Returns the best per side, in milliseconds.
 *
 * @param {{ side: Awaited<ReturnType<typeof startSide>>, name: string }[]} each
 * @param {number} warm
 * @param {number} runs
 */
export async function bestInTurns(each, warm, runs) {
  const best = each.map(() => Infinity)
  for (let i = 0; i < warm + runs; i++) {
    for (let j = 0; j < each.length; j++) {
      const k = (i + j) % each.length
      const { side, name } = /** @type {(typeof each)[number]} */ (each[k])
      const ms = await side.time(name)
      if (i >= warm) best[k] = Math.min(/** @type {number} */ (best[k]), ms)
    }
  }
  return best
}
