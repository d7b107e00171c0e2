// devcontainer-feature.json: JSONC, type-checked where Warren uses it (syntax errors and wrong
// types carry file:line:column); unknown properties warn.
import { nodeValue, parseJsoncTree } from "./jsonc-tree.ts";
import { PROPERTY_CHECKS } from "./parse.ts";
import { any, arrayOf, bool, nonEmptyStr, objectOf, recordOf, str } from "./schema.ts";

const FEATURE_CHECKS = {
  id: nonEmptyStr('"node"'),
  version: str('"1.0.0"'),
  name: str(),
  description: str(),
  documentationURL: str(),
  licenseURL: str(),
  keywords: arrayOf(str()),
  options: recordOf(objectOf({ type: any, default: any, description: any, proposals: any, enum: any }, {})),
  containerEnv: PROPERTY_CHECKS["containerEnv"]!,
  mounts: PROPERTY_CHECKS["mounts"]!,
  init: bool,
  privileged: bool,
  capAdd: PROPERTY_CHECKS["capAdd"]!,
  securityOpt: PROPERTY_CHECKS["securityOpt"]!,
  entrypoint: str(),
  customizations: any,
  dependsOn: recordOf(any),
  installsAfter: arrayOf(str()),
  legacyIds: arrayOf(str()),
  currentId: str(),
  deprecated: bool,
  onCreateCommand: PROPERTY_CHECKS["onCreateCommand"]!,
  updateContentCommand: PROPERTY_CHECKS["updateContentCommand"]!,
  postCreateCommand: PROPERTY_CHECKS["postCreateCommand"]!,
  postStartCommand: PROPERTY_CHECKS["postStartCommand"]!,
  postAttachCommand: PROPERTY_CHECKS["postAttachCommand"]!,
};

export function parseFeatureMetadata(
  text: string,
  file: string,
): { metadata: Record<string, unknown>; warnings: string[] } {
  const { tree, loc } = parseJsoncTree(text, file);
  const warnings: string[] = [];
  objectOf(FEATURE_CHECKS, { required: ["id"], example: '{"id": "node", "version": "1.0.0"}' })(tree, "", {
    loc,
    warnings,
  });
  return { metadata: nodeValue(tree) as Record<string, unknown>, warnings };
}
