/**
 * The one way io touches the file system. Reading: every reader that takes a path comes here,
 * which refuses what is not a regular file before opening it (a FIFO opened for reading would
 * block until a writer appears; `/dev/zero` reports a size of 0 and never ends), refuses a file
 * larger than the caller's limit from its size, and then reads at most that size: a file that
 * turns out longer than it said is refused too. Writing: every writer's file errors become a
 * {@link WriteError} naming the path and the reason, never a raw `EEXIST` or `ENOTDIR`.
 */
import { Buffer } from 'node:buffer'
import {
  closeSync,
  constants,
  fstatSync,
  mkdirSync,
  openSync,
  readSync,
  type Stats,
  statSync,
  writeFileSync,
} from 'node:fs'
import { dirname } from 'node:path'
import { FileFormatError, WriteError } from './errors.js'
import { valueExcerpt } from './excerpt.js'

/** A FileFormatError class (the reader's own: NpyFormatError, NpzFormatError, ...). */
export type FileErrorClass = new (
  source: string,
  key: string | undefined,
  reason: string,
) => FileFormatError

/** What a stat says the path is, when it is not a regular file. */
function notRegular(st: Stats): string | undefined {
  if (st.isFile()) return undefined
  if (st.isDirectory()) return 'is a directory, not a file'
  if (st.isFIFO()) return 'is a FIFO (named pipe), not a regular file: it is not opened'
  if (st.isCharacterDevice()) return 'is a character device (such as /dev/zero), not a regular file'
  if (st.isBlockDevice()) return 'is a block device, not a regular file'
  if (st.isSocket()) return 'is a socket, not a regular file'
  return 'is not a regular file'
}

/** A system error as a short reason (its code and what it means), without Node's stack text. */
function systemReason(e: unknown, doing: string): string {
  const code = (e as { code?: unknown })?.code
  const known: { readonly [code: string]: string } = Object.assign(Object.create(null), {
    ENOENT: 'no such file or folder',
    ENOTDIR: 'a part of the path is a file, not a folder',
    EISDIR: 'is a directory, not a file',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EEXIST: 'a file is in the way where a folder is needed',
    ELOOP: 'too many symbolic links',
    ENAMETOOLONG: 'the path is too long',
    ENOSPC: 'no space left on the device',
    EROFS: 'the file system is read-only',
    EMFILE: 'too many open files',
  })
  if (typeof code === 'string') {
    const what = Object.hasOwn(known, code) ? known[code] : 'system error'
    return `cannot ${doing}: ${what} (${code})`
  }
  const message = e instanceof Error ? e.message : String(e)
  return `cannot ${doing}: ${message.length > 200 ? `${message.slice(0, 200)}…` : message}`
}

function wrap(Err: FileErrorClass, source: string, e: unknown, doing: string): FileFormatError {
  const err = new Err(source, undefined, systemReason(e, doing))
  err.cause = e
  return err
}

/**
 * The bytes of the regular file at `path`, at most `maxBytes` of them. Every refusal is an
 * `Err` naming `source` and the reason: not a string, missing, not a regular file (checked by
 * `stat` before opening, and again on the open descriptor), larger than `maxBytes`, or longer
 * than its size said. The result owns its memory (offset 0), so aligned data can be viewed.
 */
export function readFileGated(
  path: unknown,
  source: string,
  Err: FileErrorClass,
  maxBytes: number,
): Uint8Array {
  if (typeof path !== 'string') {
    throw new Err(
      source,
      undefined,
      `expected a path, a Uint8Array or an ArrayBuffer, got ${valueExcerpt(path)}`,
    )
  }
  let st: Stats
  try {
    st = statSync(path)
  } catch (e) {
    throw wrap(Err, source, e, 'read the file')
  }
  const checkStat = (s: Stats): void => {
    const reason = notRegular(s)
    if (reason !== undefined) throw new Err(source, undefined, reason)
    if (s.size > maxBytes) {
      throw new Err(
        source,
        undefined,
        `file of ${s.size} bytes is larger than the limits allow (${maxBytes})`,
      )
    }
  }
  checkStat(st)
  let fd: number
  try {
    // O_NONBLOCK: should the path have become a FIFO since the stat, opening it does not block.
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0))
  } catch (e) {
    throw wrap(Err, source, e, 'open the file')
  }
  try {
    const fst = fstatSync(fd)
    checkStat(fst)
    const out = new Uint8Array(Buffer.allocUnsafeSlow(fst.size).buffer, 0, fst.size)
    let got = 0
    while (got < out.length) {
      const n = readSync(fd, out, got, out.length - got, null)
      if (n === 0) break
      got += n
    }
    if (readSync(fd, new Uint8Array(1), 0, 1, null) !== 0) {
      throw new Err(
        source,
        undefined,
        `the file holds more than the ${fst.size} bytes its size says (a special file, or it grew while read)`,
      )
    }
    return got === out.length ? out : out.subarray(0, got)
  } catch (e) {
    if (e instanceof FileFormatError) throw e
    throw wrap(Err, source, e, 'read the file')
  } finally {
    closeSync(fd)
  }
}

/**
 * Writes `bytes` to `path`, creating its folder first when `mkdir` (as `np.save` users expect
 * of reprod_log). Every failure is a {@link WriteError} naming the path and the reason.
 */
export function writeFileGated(path: unknown, bytes: Uint8Array, mkdir = false): void {
  if (typeof path !== 'string' || path === '') {
    throw new WriteError('<argument>', undefined, `expected a file path, got ${valueExcerpt(path)}`)
  }
  if (mkdir) {
    try {
      mkdirSync(dirname(path), { recursive: true })
    } catch (e) {
      const err = new WriteError(
        path,
        undefined,
        systemReason(e, `create the folder '${dirname(path)}'`),
      )
      err.cause = e
      throw err
    }
  }
  try {
    writeFileSync(path, bytes)
  } catch (e) {
    const err = new WriteError(path, undefined, systemReason(e, 'write the file'))
    err.cause = e
    throw err
  }
}
