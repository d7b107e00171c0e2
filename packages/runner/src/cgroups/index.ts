// Cgroup drivers: pick one with cgroupDriver(); see types.ts for the contract.
export {
  type CgroupMode,
  type CgroupMounts,
  cgroupDriver,
  detectCgroupMode,
  parseCgroupMounts,
} from "./detect.ts";
export { CPU_PERIOD_US, cpuQuotaUs, ociResources } from "./oci.ts";
export { type PsiFile, type PsiLine, parsePsi } from "./psi.ts";
export type { CgroupDriver, CgroupLimits, CgroupUsage, PsiAvg10 } from "./types.ts";
export { CgroupV1Driver, type CgroupV1Options } from "./v1.ts";
export { CgroupV2Driver, type CgroupV2Options } from "./v2.ts";
