// The admin pages (shown in the nav to admins and owners; the server refuses their calls to anyone
// else, and the pages show that refusal as the catalog's message).
import type { PageRoute } from "../settings/index.ts";
import { AuditPage } from "./audit.tsx";
import { ClassesPage } from "./classes.tsx";
import { MembersPage } from "./members.tsx";
import { PoliciesPage } from "./policies.tsx";
import { QuotasPage } from "./quotas.tsx";
import { RunnersPage } from "./runners.tsx";
import { UsagePage } from "./usage.tsx";

export const ADMIN_ROUTES: PageRoute[] = [
  { path: "/admin/members", title: "Members", component: MembersPage },
  { path: "/admin/classes", title: "Classes", component: ClassesPage },
  { path: "/admin/quotas", title: "Quotas", component: QuotasPage },
  { path: "/admin/policies", title: "Policies", component: PoliciesPage },
  { path: "/admin/runners", title: "Runners", component: RunnersPage },
  { path: "/admin/audit", title: "Audit log", component: AuditPage },
  { path: "/admin/usage", title: "Usage", component: UsagePage },
];
