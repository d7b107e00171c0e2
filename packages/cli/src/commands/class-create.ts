// warren class create NAME --cpus N --memory SIZE --disk SIZE [--pids N] [--runtime R]
//   [--max-cpus N --max-memory SIZE --max-disk SIZE] [--egress all|none|CIDR[,CIDR...]]
//   [--require-label K=V ...] [--cpu-overcommit N] [--memory-overcommit N] [--disk-overcommit N]
//   [--read-bps RATE] [--write-bps RATE] [--read-iops N] [--write-iops N] [--cpu-burst N]
import {
  type CreateClassRequest,
  checkOvercommit,
  type IoLimits,
  parseCpuBurst,
  parseIoBps,
  parseIoIops,
  parseRequiredLabels,
} from "@warren/protocol";
import { connect } from "../connect.ts";
import { classTable, printJson } from "../format.ts";
import {
  checkEgress,
  checkIdleTimeout,
  checkName,
  checkRuntime,
  checkSize,
  parseCpus,
  parsePositiveInt,
} from "../options.ts";

export interface ClassCreateOptions {
  cpus: string;
  memory: string;
  disk: string;
  pids?: string;
  runtime?: string;
  maxCpus?: string;
  maxMemory?: string;
  maxDisk?: string;
  egress?: string;
  idleTimeout?: string;
  /** `k=v`, repeatable: labels a runner must carry to take this class's environments. */
  requireLabel?: string[];
  cpuOvercommit?: string;
  memoryOvercommit?: string;
  diskOvercommit?: string;
  readBps?: string;
  writeBps?: string;
  readIops?: string;
  writeIops?: string;
  /** Cores the CPU governor may raise a throttled environment to; default the runner's 2 × cpus. */
  cpuBurst?: string;
  json?: boolean;
}

export function classRequest(name: string, o: ClassCreateOptions): CreateClassRequest {
  const req: CreateClassRequest = {
    name: checkName(name, "class name"),
    cpus: parseCpus(o.cpus),
    memory: checkSize(o.memory, "--memory"),
    disk: checkSize(o.disk, "--disk"),
  };
  if (o.pids !== undefined) req.pids = parsePositiveInt(o.pids, "--pids");
  if (o.runtime !== undefined) req.runtime = checkRuntime(o.runtime);
  if (o.maxCpus !== undefined) req.maxCpus = parseCpus(o.maxCpus, "--max-cpus");
  if (o.maxMemory !== undefined) req.maxMemory = checkSize(o.maxMemory, "--max-memory");
  if (o.maxDisk !== undefined) req.maxDisk = checkSize(o.maxDisk, "--max-disk");
  if (o.egress !== undefined) req.egress = checkEgress(o.egress);
  if (o.idleTimeout !== undefined) req.idleTimeout = checkIdleTimeout(o.idleTimeout);
  if (o.requireLabel?.length) req.requiredLabels = parseRequiredLabels(o.requireLabel);
  if (o.cpuOvercommit !== undefined) req.cpuOvercommit = ratio("cpu", o.cpuOvercommit);
  if (o.memoryOvercommit !== undefined) req.memoryOvercommit = ratio("memory", o.memoryOvercommit);
  if (o.diskOvercommit !== undefined) req.diskOvercommit = ratio("disk", o.diskOvercommit);
  const io: IoLimits = {};
  if (o.readBps !== undefined) io.readBps = parseIoBps("readBps", o.readBps);
  if (o.writeBps !== undefined) io.writeBps = parseIoBps("writeBps", o.writeBps);
  if (o.readIops !== undefined) io.readIops = parseIoIops("readIops", o.readIops);
  if (o.writeIops !== undefined) io.writeIops = parseIoIops("writeIops", o.writeIops);
  if (Object.keys(io).length > 0) req.ioLimits = io;
  if (o.cpuBurst !== undefined) req.cpuBurst = parseCpuBurst(o.cpuBurst, req.cpus);
  return req;
}

/** A ratio flag as a number within its bounds (not a number: the message shows what was typed). */
function ratio(kind: "cpu" | "memory" | "disk", input: string): number {
  const n = Number(input);
  return checkOvercommit(kind, input.trim() !== "" && Number.isFinite(n) ? n : input);
}

export async function classCreateCommand(name: string, o: ClassCreateOptions) {
  const req = classRequest(name, o);
  const client = await connect();
  const cls = await client.createClass(req);
  if (o.json) printJson(cls);
  else process.stdout.write(classTable([cls]));
  return 0;
}
