import { useState, type FormEvent } from "react";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api, ApiError, type Me, type Member, type Role } from "../api";
import { useI18n, type MessageKey } from "../i18n";
import { formatDateTime } from "../format";
import { keys } from "../realtime";
import { ErrorBanner } from "../components/common";
import { useMembers } from "../components/ConversationList";

const ROLES: Role[] = ["agent", "supervisor", "admin", "owner"];

export function UsersAdmin({ me }: { me: Me }) {
  const { t, locale } = useI18n();
  const qc = useQueryClient();
  const members = useMembers();
  const refresh = () => void qc.invalidateQueries({ queryKey: keys.users });
  const role = useMutation<Member, ApiError, { id: string; role: Role }>({ mutationFn: ({ id, role }) => api.patchUser(id, role), onSuccess: refresh });
  const remove = useMutation<void, ApiError, string>({ mutationFn: api.deleteUser, onSuccess: refresh });
  const isOwner = me.role === "owner";
  return (
    <div data-testid="users-admin">
      <h1>{t("admin.users")}</h1>
      <AddMember isOwner={isOwner} onDone={refresh} />
      <ErrorBanner error={members.error ?? role.error ?? remove.error} />
      <table className="table">
        <thead>
          <tr>
            <th>{t("admin.name")}</th>
            <th>{t("login.email")}</th>
            <th>{t("admin.role")}</th>
            <th>{t("admin.joined")}</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {(members.data ?? []).map((m) => {
            const locked = !isOwner && m.role === "owner";
            return (
              <tr key={m.id} data-testid="member-row">
                <td>
                  {m.name}
                  {m.id === me.user.id && <span className="muted"> ({t("actions.you")})</span>}
                </td>
                <td>{m.email}</td>
                <td>
                  <select
                    value={m.role}
                    disabled={locked}
                    aria-label={t("admin.role")}
                    onChange={(e) => role.mutate({ id: m.id, role: e.target.value as Role })}
                  >
                    {ROLES.map((r) => (
                      <option key={r} value={r} disabled={r === "owner" && !isOwner}>
                        {t(`role.${r}` as MessageKey)}
                      </option>
                    ))}
                  </select>
                </td>
                <td>{formatDateTime(m.joined_at, locale)}</td>
                <td className="row-actions">
                  {m.id !== me.user.id && !locked && (
                    <button type="button" className="small danger" onClick={() => window.confirm(t("admin.confirmRemove", { name: m.name || m.email })) && remove.mutate(m.id)}>
                      {t("admin.remove")}
                    </button>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function AddMember({ isOwner, onDone }: { isOwner: boolean; onDone: () => void }) {
  const { t } = useI18n();
  const [f, setF] = useState({ email: "", name: "", password: "", role: "agent" as Role });
  const add = useMutation<Member, ApiError, void>({
    mutationFn: () => api.createUser({ email: f.email.trim(), name: f.name.trim() || undefined, password: f.password || undefined, role: f.role }),
    onSuccess: () => {
      setF({ email: "", name: "", password: "", role: "agent" });
      onDone();
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    add.mutate();
  };
  return (
    <form className="inline-form" onSubmit={submit}>
      <h2>{t("admin.addMember")}</h2>
      <label>
        {t("login.email")}
        <input type="email" required value={f.email} onChange={(e) => setF({ ...f, email: e.target.value })} />
      </label>
      <label>
        {t("admin.name")}
        <input value={f.name} onChange={(e) => setF({ ...f, name: e.target.value })} />
      </label>
      <label>
        {t("login.password")}
        <input type="password" autoComplete="new-password" value={f.password} onChange={(e) => setF({ ...f, password: e.target.value })} />
        <span className="hint">{t("admin.passwordHint")}</span>
      </label>
      <label>
        {t("admin.role")}
        <select value={f.role} onChange={(e) => setF({ ...f, role: e.target.value as Role })}>
          {ROLES.filter((r) => r !== "owner" || isOwner).map((r) => (
            <option key={r} value={r}>
              {t(`role.${r}` as MessageKey)}
            </option>
          ))}
        </select>
      </label>
      <button type="submit" className="primary" disabled={add.isPending}>
        {t("admin.add")}
      </button>
      <ErrorBanner error={add.error} />
    </form>
  );
}
