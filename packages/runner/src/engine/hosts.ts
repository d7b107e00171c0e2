// The environment's /etc/hosts (bind-mounted read-only from its host directory). Its own name
// maps to its address under the internal zone, canonical name first, as Docker writes it: then
// `hostname -f` answers NAME.ZONE (the name the runner's resolver serves) instead of the
// `localhost` that listing the name on the loopback line gave.
import { NAME_RE } from "@warren/protocol";

const ZONE_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;
const IPV4_RE = /^(\d{1,3}\.){3}\d{1,3}$/;

/**
 * `name` comes over the runner wire and `zone` from the daemon's environment, so each is checked
 * before it becomes a line here: a value that does not fit is left out, never written.
 */
export function hostsFile(name: string, ip: string | undefined, zone: string): string {
  const lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"];
  const zoneName = zone.replace(/\.$/, "");
  if (NAME_RE.test(name) && ip && IPV4_RE.test(ip)) {
    lines.push(
      ZONE_RE.test(zoneName) ? `${ip}\t${name}.${zoneName.toLowerCase()} ${name}` : `${ip}\t${name}`,
    );
  }
  return `${lines.join("\n")}\n`;
}
