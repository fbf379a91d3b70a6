// The npm oracle of warden's differential test (server/analysis/tests/oracles.rs):
// generates (range, version) cases deterministically, adds the inputs of node-semver's
// own fixture files (node-semver-fixtures.json beside this file), and has node-semver
// judge every one the way npm does: semver.satisfies(version, range, { loose: true })
// (npm-package-arg and Arborist read ranges in loose mode, without includePrerelease).
// An invalid range is recorded as expected null.
//
// Usage: node tests/oracles/npm.js SEMVER_PACKAGE_DIR OUT.json
'use strict'

const fs = require('fs')
const path = require('path')

const [semverDir, out] = process.argv.slice(2)
if (!semverDir || !out) {
  console.error('usage: node npm.js SEMVER_PACKAGE_DIR OUT.json')
  process.exit(2)
}
const semver = require(path.resolve(semverDir))
const semverVersion = JSON.parse(fs.readFileSync(path.join(semverDir, 'package.json'), 'utf8')).version
const options = { loose: true }

const versions = [
  '0.0.0-0', '0.0.0', '0.0.1', '0.0.2', '0.0.3', '0.0.3-rc.1', '0.0.4', '0.1.0', '0.1.5',
  '0.2.0', '0.2.3', '0.2.9', '0.3.0', '1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-rc.1',
  '1.0.0', '1.0.1', '1.1.0', '1.1.9', '1.2.0', '1.2.0-0', '1.2.2', '1.2.3-0',
  '1.2.3-alpha', '1.2.3-beta.2', '1.2.3-beta.3', '1.2.3', '1.2.3+build.5', '1.2.4-alpha',
  '1.2.4', '1.2.9', '1.3.0-0', '1.3.0-alpha', '1.3.0', '1.9.9', '1.10.2-pre', '1.10.2',
  '2.0.0-0', '2.0.0-rc.1', '2.0.0', '2.0.1', '2.3.4', '2.3.5', '2.4.0', '3.0.0-beta',
  '3.0.0', '10.0.0',
]

// Partial and full versions, x-ranges, pre-releases, build metadata, 0.x.
const atoms = [
  '0', '0.0', '0.0.0', '0.0.3', '0.1', '0.2.3', '1', '1.2', '1.2.3', '1.2.3-beta.2',
  '1.2.3-0', '1.3.0-alpha', '2.0.0-rc.1', '0.0.3-rc.1', '1.x', '1.2.x', '1.*', '1.1.*',
  '*', 'x', '2', '1.10.2-pre', 'v1.2.3', '1.2.3+build.1', '0.0.0-0', 'X.x',
]
const operators = ['', '=', 'v', '^', '~', '~>', '>', '>=', '<', '<=']

const ranges = []
const seen = new Set()
const add = (r) => {
  if (!seen.has(r)) {
    seen.add(r)
    ranges.push(r)
  }
}
for (const op of operators) {
  for (const a of atoms) {
    add(op + a)
    if (op !== '') add(`${op} ${a}`) // a space after the operator
  }
}
const lowers = ['>=1', '>=1.2', '>=1.2.3', '>=1.2.3-beta.2', '>0.2.3', '^1.2', '~1.2.3']
const uppers = ['<2', '<1.3', '<1.2.4', '<2.0.0-rc.1', '<=1.2.3', '<=2.0.0-0']
for (const lo of lowers) {
  for (const hi of uppers) {
    add(`${lo} ${hi}`)
    add(`${lo.replace(/^([<>=^~]+)/, '$1 ')} ${hi.replace(/^([<>=]+)/, '$1 ')}`)
  }
}
for (const from of ['1', '1.2', '1.2.3', '1.2.3-beta.2', 'x', '0.0.3']) {
  for (const to of ['2', '2.3', '2.3.4', '2.0.0-rc.1', 'x', '1.2.3']) add(`${from} - ${to}`)
}
const unions = ['^1.0.0', '~2.3', '1.2.3-beta.2', '*', '<0.0.1', '>=3.0.0-beta', '0.2.x']
for (const a of unions) {
  for (const b of unions) if (a < b) add(`${a} || ${b}`)
}

const fixtures = JSON.parse(fs.readFileSync(path.join(__dirname, 'node-semver-fixtures.json'), 'utf8'))
for (const r of fixtures.ranges) add(r)

const judge = (range, version) => {
  if (semver.validRange(range, options) === null) return null
  return semver.satisfies(version, range, options)
}

const cases = []
for (const range of ranges) {
  for (const version of versions) cases.push([range, version, judge(range, version), 'generated'])
}
for (const p of fixtures.pairs) {
  cases.push([p.range, p.version, judge(p.range, p.version), `node-semver ${p.file}`])
}

fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true })
fs.writeFileSync(out, JSON.stringify({
  ecosystem: 'npm',
  oracle: `node-semver ${semverVersion}: semver.satisfies(version, range, { loose: true }); null: semver.validRange(range, { loose: true }) is null`,
  generator: 'tests/oracles/npm.js',
  cases,
}))
console.log(`npm oracle: node-semver ${semverVersion}, ${ranges.length} ranges, ${cases.length} cases -> ${out}`)
