// The organisation's members and their roles (owners change them; anyone else sees the server's
// refusal as the catalog's message).
import type { JSX } from "preact";
import { useState } from "preact/hooks";
import { api, unwrap } from "../../api.ts";
import { useSession } from "../../session.ts";
import type { Item } from "../settings/api-types.ts";
import {
  ConfirmButton,
  ErrorNote,
  inputValue,
  Loading,
  PageTitle,
  ScrollTable,
  Section,
  StatusNote,
  useAction,
  useLoad,
} from "../settings/kit.tsx";

type Member = Item<"/api/v1/orgs/{org}/members">;
type Role = Member["role"];
const ROLES: Role[] = ["member", "admin", "owner"];

export function MembersPage(): JSX.Element {
  const { session } = useSession();
  const org = session?.org ?? "";
  const path = { org };
  const members = useLoad(
    async () => (await unwrap(api.GET("/api/v1/orgs/{org}/members", { params: { path } }))).items,
    [org],
  );
  const act = useAction();
  const [name, setName] = useState("");
  const [role, setRole] = useState<Role>("member");

  const setMember = (n: string, r: Role, done: string) =>
    act.run(
      () => unwrap(api.POST("/api/v1/orgs/{org}/members", { params: { path }, body: { name: n, role: r } })),
      done,
    );
  const add = async (e: Event) => {
    e.preventDefault();
    if (await setMember(name.trim(), role, `${name.trim()} is now ${role}.`)) {
      setName("");
      members.reload();
    }
  };
  const remove = (m: Member) =>
    act
      .run(
        () =>
          unwrap(
            api.DELETE("/api/v1/orgs/{org}/members/{user}", { params: { path: { org, user: m.name } } }),
          ),
        `${m.name} removed; their sessions ended.`,
      )
      .then(members.reload);

  return (
    <>
      <PageTitle title="Members">
        Who belongs to {org || "this organisation"}, and their role. Owners manage members.
      </PageTitle>
      <Section title="Members and roles">
        <Loading state={members}>
          {(items) => (
            <ScrollTable label="Members">
              <table>
                <thead>
                  <tr>
                    <th scope="col">User</th>
                    <th scope="col">Role</th>
                    <th scope="col">
                      <span class="visually-hidden">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {items.map((m) => (
                    <tr key={m.userId}>
                      <td>
                        {m.name}
                        {m.name === session?.user ? " (you)" : ""}
                      </td>
                      <td>
                        <select
                          aria-label={`Role of ${m.name}`}
                          value={m.role}
                          disabled={act.busy}
                          onChange={(e) =>
                            void setMember(
                              m.name,
                              inputValue(e) as Role,
                              `${m.name} is now ${inputValue(e)}.`,
                            ).then(members.reload)
                          }
                        >
                          {ROLES.map((r) => (
                            <option key={r} value={r}>
                              {r}
                            </option>
                          ))}
                        </select>
                      </td>
                      <td>
                        <ConfirmButton label="Remove" what={m.name} onConfirm={() => remove(m)} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </ScrollTable>
          )}
        </Loading>
      </Section>
      <Section title="Add a member">
        <form class="form" onSubmit={add}>
          <label for="member-name">User name</label>
          <input
            id="member-name"
            type="text"
            required
            maxLength={200}
            value={name}
            onInput={(e) => setName(inputValue(e))}
          />
          <label for="member-role">Role</label>
          <select id="member-role" value={role} onChange={(e) => setRole(inputValue(e) as Role)}>
            {ROLES.map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
          <div class="form-actions">
            <button type="submit" class="primary" disabled={act.busy || !name.trim()}>
              Add member
            </button>
          </div>
        </form>
      </Section>
      <ErrorNote error={act.error} />
      <StatusNote text={act.status} />
    </>
  );
}
