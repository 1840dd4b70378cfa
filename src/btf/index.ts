/**
 * tsbpf/btf: BTF parsing (lazy over kernel BTF), building and encoding,
 * .BTF.ext, CO-RE relocation, sanitising, and C / TypeScript dumps.
 * Pure code: Uint8Array in, data out; no Node modules.
 */
export { BtfError, formatLocation, type BtfLocation } from './errors.js';
export { BTF_KIND, KIND_NAMES, LINKAGE, type BtfKindName, type Linkage } from './kinds.js';
export * from './types.js';
export { Btf, parseBtf, type BtfHeader, type BtfParseOptions } from './btf.js';
export { BtfBuilder, encodeBtf, type BtfBuilderOptions, type NewType } from './builder.js';
export { skipModifiers, skipModsAndTypedefs, sizeOf, alignOf, cTypeName } from './navigate.js';
export { toRaw, rawTypeLines } from './dump-raw.js';
export {
  parseBtfExt,
  encodeBtfExt,
  CORE_RELO_KIND,
  CORE_RELO_KIND_NAMES,
  type BtfExt,
  type ExtSection,
  type FuncInfo,
  type LineInfo,
  type CoreRelo,
  type CoreReloKind,
} from './ext.js';
export { essentialName, essentialNameLength } from './core/names.js';
export { parseSpec, describeSpec, type CoreSpec, type Accessor } from './core/spec.js';
export { CoreTarget, type Candidate } from './core/candidates.js';
export { fieldsCompat, typesCompat, typesMatch } from './core/compat.js';
export { resolveCoreRelo, resolveCoreReloStrict, matchSpec, type CoreResult } from './core/resolve.js';
export { applyCoreRelocation, POISON_HELPER_ID, type CoreInsn } from './core/apply.js';
export { packFuncInfo, packLineInfo, FUNC_INFO_RECORD_SIZE, LINE_INFO_RECORD_SIZE } from './prog-ext.js';
export { toCHeader, type CHeaderOptions } from './dump-c.js';
export { toTypeScript, type TypeScriptOptions } from './dump-ts.js';
export { sanitizeBtf, ALL_BTF_FEATURES, type BtfFeatures, type SanitizedBtf } from './sanitize.js';
export { fieldAccess, type FieldAccess } from './core/access.js';
export { decodeBtfValue, formatPretty, hex, type BtfValue } from './values.js';
