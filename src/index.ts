/**
 * `vitest-align`: the compare core, the file readers and writers, their types, and
 * `defineAlignment` (the stage fixtures). Nothing runs on import; importing loads Vitest's
 * `test` (for `defineAlignment`) but calls nothing of it, so scripts and the CLI can use the rest.
 */
export * from './compare/index.js'
export * from './io/index.js'
export {
  type AlignmentFixtures,
  type AlignmentOptions,
  type AlignmentTest,
  type DefaultFakeData,
  defineAlignment,
  FAKE_DATA_SHAPE,
  type FakeDataEntry,
  type FakeDataOf,
  type FakeDataOption,
  type FakeRandom,
  type FilePath,
  generateFakeData,
  type ModelOptions,
  type ReferenceFile,
  type ReferenceOf,
  type ReferenceOption,
  type ReferenceRecordOf,
  type StageInfo,
  type TensorCounter,
  TensorLeakError,
} from './vitest/fixtures.js'
