// The layer rule of docs/architecture.md, checked by `npm run depcruise` (part of `npm test`).
// A module may import from its own layer and the layers below it, never from above;
// no import cycles anywhere, type-only imports included.

/** Bottom to top. A layer's pattern matches paths relative to the repository root. */
const LAYERS = [
  { name: 'core', path: '^src/core/' },
  { name: 'config/observability', path: '^src/(config|observability)/' },
  { name: 'store/dovecot', path: '^src/(store|dovecot)/' },
  { name: 'auth/policy', path: '^src/(auth|policy)/' },
  { name: 'accounts/rotation', path: '^src/(accounts|rotation|notices)/' },
  { name: 'http', path: '^src/http/' },
  { name: 'daemon', path: '^src/daemon/' },
  { name: 'cli', path: '^src/cli/' },
];

const upward = LAYERS.slice(0, -1).map((layer, i) => ({
  name: `layer-${layer.name.replace('/', '-')}`,
  comment: `${layer.name} may not import from a layer above it (${LAYERS.slice(i + 1).map((l) => l.name).join(', ')}); move the shared piece down instead`,
  severity: 'error',
  from: {
    path: layer.path,
    // context.ts names what every service receives (config, pool, logger); it holds no code, so its type-only imports are allowed.
    ...(layer.name === 'core' ? { pathNot: '^src/core/context\\.ts$' } : {}),
  },
  to: { path: LAYERS.slice(i + 1).map((l) => l.path) },
}));

/** @type {import('dependency-cruiser').IConfiguration} */
export default {
  forbidden: [
    ...upward,
    {
      name: 'context-types-only',
      comment: 'src/core/context.ts may name types from higher layers, never import their code',
      severity: 'error',
      from: { path: '^src/core/context\\.ts$' },
      to: { path: LAYERS.slice(1).map((l) => l.path), dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'every-module-in-a-layer',
      comment: 'a new folder under src/ needs a place in the layer list (.dependency-cruiser.mjs, docs/architecture.md)',
      severity: 'error',
      from: { path: '^src/', pathNot: LAYERS.map((l) => l.path) },
      to: {},
    },
    {
      name: 'no-circular',
      comment: 'import cycles make load order matter and hide which module owns what',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'src-not-from-tests',
      comment: 'the shipped code never imports tests, benchmarks or dev dependencies',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(test|bench)/' },
    },
    {
      name: 'src-no-dev-dependencies',
      comment: 'the shipped code runs without devDependencies installed',
      severity: 'error',
      from: { path: '^src/' },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'an import that does not resolve fails at run time',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
};
