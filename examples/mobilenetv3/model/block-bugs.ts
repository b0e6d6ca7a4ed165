/**
 * One-block porting bugs, for the layer-by-layer negative control: each is a real mistake made in
 * a single `InvertedResidual` (`features.N`), so a layer-wise comparison must name that block, and
 * nothing before it, as the first place the port parts from torch.
 */
import type { Architecture, BlockSpec } from './weights.js'

/**
 * - `depthwise-same-padding`: the block's depthwise conv pads TF's `'same'` way (at stride 2:
 *   less before, more after) instead of torch's symmetric `(k - 1) / 2`; a stride-2 block only
 *   (`features.1`, `.2`, `.4`, `.9` in mobilenet_v3_small: at stride 1 `'same'` is symmetric);
 *   the first module to differ is `features.N.block.K.0`, the depthwise conv itself;
 * - `hardswish-as-relu6`: every Hardswish of the block computed as ReLU6 (a `tf.relu6` where
 *   `x · relu6(x + 3) / 6` belongs); a block with hardswish (`features.4` to `.11`); the first
 *   module to differ is the expansion's activation, `features.N.block.0.2`;
 * - `se-sigmoid`: the block's squeeze-excitation gates with a logistic sigmoid instead of
 *   torch's Hardsigmoid (`min(max(x + 3, 0), 6) / 6`); a block with SE (`features.1`, `.4` to
 *   `.11`); the first module to differ is `features.N.block.K.scale_activation`.
 */
export type BlockBugKind = 'depthwise-same-padding' | 'hardswish-as-relu6' | 'se-sigmoid'

/** Every {@link BlockBugKind}. */
export const BLOCK_BUG_KINDS: readonly BlockBugKind[] = [
  'depthwise-same-padding',
  'hardswish-as-relu6',
  'se-sigmoid',
]

/** A one-block bug: what, and in which block (`features.N`, torch's module path). */
export interface BlockBug {
  readonly kind: BlockBugKind
  readonly block: string
}

/** The blocks of `arch` that can take `kind`, in order (`features.N`). */
export function blocksFor(arch: Architecture, kind: BlockBugKind): string[] {
  return arch.blocks.filter((b) => applies(b, kind)).map((b) => b.name)
}

function applies(b: BlockSpec, kind: BlockBugKind): boolean {
  switch (kind) {
    case 'depthwise-same-padding':
      return b.depthwise.stride === 2
    case 'hardswish-as-relu6':
      return [b.expand, b.depthwise].some((c) => c?.activation === 'hardswish')
    case 'se-sigmoid':
      return b.se !== undefined
  }
}

/** Throws a RangeError unless `bug` names a known kind and a block of `arch` it applies to. */
export function checkBlockBug(arch: Architecture, bug: BlockBug): void {
  if (!BLOCK_BUG_KINDS.includes(bug.kind)) {
    throw new RangeError(`unknown block bug '${bug.kind}'; known: ${BLOCK_BUG_KINDS.join(', ')}`)
  }
  const ok = blocksFor(arch, bug.kind)
  if (!ok.includes(bug.block)) {
    throw new RangeError(
      `block bug '${bug.kind}' cannot go in '${bug.block}'; it applies to ${ok.join(', ')}`,
    )
  }
}
