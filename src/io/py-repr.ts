/**
 * Python's `repr(float)`, which reprod_log's log lines print (`'{}'.format(np.float32(x))`
 * formats the value as a Python float, i.e. its float64 expansion).
 */

/**
 * `repr(x)` of a Python float: the shortest digits that read back as `x` (the same digits as
 * JavaScript's), written in positional notation when the decimal exponent is in [-5, 15]
 * (`0.0001`, `123.0`, `1e+16`...) and in exponent notation otherwise, with a sign and at least
 * two exponent digits (`1e-06`, `2.308018565599923e-06`); `nan`, `inf`, `-inf`, `-0.0`.
 */
export function pyFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'nan'
  if (x === Number.POSITIVE_INFINITY) return 'inf'
  if (x === Number.NEGATIVE_INFINITY) return '-inf'
  const sign = x < 0 || Object.is(x, -0) ? '-' : ''
  if (x === 0) return `${sign}0.0`
  // toExponential() without an argument gives the shortest round-trip digits
  const [mantissa, exp] = Math.abs(x).toExponential().split('e') as [string, string]
  const digits = mantissa.replace('.', '')
  const e = Number(exp)
  // Python: exponent notation when the decimal point falls at -4 or before, or after 16 digits
  if (e < -4 || e >= 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits
    const ee = Math.abs(e).toString().padStart(2, '0')
    return `${sign}${m}e${e < 0 ? '-' : '+'}${ee}`
  }
  const point = e + 1 // digits before the decimal point
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`
  if (point >= digits.length) return `${sign}${digits}${'0'.repeat(point - digits.length)}.0`
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`
}
