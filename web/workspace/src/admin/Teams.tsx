import { useState, type FormEvent } from "react";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api, ApiError, type Member, type Team } from "../api";
import { useI18n } from "../i18n";
import { keys } from "../realtime";
import { ErrorBanner } from "../components/common";
import { useMembers, useTeams } from "../components/ConversationList";

export function TeamsAdmin() {
  const { t } = useI18n();
  const qc = useQueryClient();
  const teams = useTeams();
  const members = useMembers();
  const [editing, setEditing] = useState<string | null>(null);
  const refresh = () => void qc.invalidateQueries({ queryKey: keys.teams });
  const del = useMutation<void, ApiError, string>({ mutationFn: api.deleteTeam, onSuccess: refresh });
  const names = new Map((members.data ?? []).map((m) => [m.id, m.name || m.email]));
  return (
    <div data-testid="teams-admin">
      <h1>{t("admin.teams")}</h1>
      <TeamForm members={members.data ?? []} onDone={refresh} />
      <ErrorBanner error={teams.error ?? del.error} />
      <table className="table">
        <thead>
          <tr>
            <th>{t("admin.name")}</th>
            <th>{t("admin.members")}</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {(teams.data ?? []).map((tm) =>
            editing === tm.id ? (
              <tr key={tm.id}>
                <td colSpan={3}>
                  <TeamForm
                    team={tm}
                    members={members.data ?? []}
                    onDone={() => {
                      setEditing(null);
                      refresh();
                    }}
                    onCancel={() => setEditing(null)}
                  />
                </td>
              </tr>
            ) : (
              <tr key={tm.id}>
                <td>{tm.name}</td>
                <td>{tm.member_ids.map((id) => names.get(id) ?? id).join(", ") || "—"}</td>
                <td className="row-actions">
                  <button type="button" className="small" onClick={() => setEditing(tm.id)}>
                    {t("common.edit")}
                  </button>
                  <button type="button" className="small danger" onClick={() => window.confirm(t("admin.confirmDeleteTeam", { name: tm.name })) && del.mutate(tm.id)}>
                    {t("common.delete")}
                  </button>
                </td>
              </tr>
            ),
          )}
          {teams.isSuccess && teams.data.length === 0 && (
            <tr>
              <td colSpan={3} className="muted">
                {t("admin.noTeams")}
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </div>
  );
}

function TeamForm({ team, members, onDone, onCancel }: { team?: Team; members: Member[]; onDone: () => void; onCancel?: () => void }) {
  const { t } = useI18n();
  const [name, setName] = useState(team?.name ?? "");
  const [ids, setIds] = useState<string[]>(team?.member_ids ?? []);
  const save = useMutation<Team, ApiError, void>({
    mutationFn: () => (team ? api.patchTeam(team.id, { name: name.trim(), member_ids: ids }) : api.createTeam({ name: name.trim(), member_ids: ids })),
    onSuccess: () => {
      if (!team) {
        setName("");
        setIds([]);
      }
      onDone();
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (name.trim()) save.mutate();
  };
  return (
    <form className="inline-form" onSubmit={submit}>
      {!team && <h2>{t("admin.newTeam")}</h2>}
      <label>
        {t("admin.name")}
        <input value={name} onChange={(e) => setName(e.target.value)} required maxLength={100} />
      </label>
      <fieldset className="checks">
        <legend>{t("admin.members")}</legend>
        {members.map((m) => (
          <label key={m.id} className="check">
            <input
              type="checkbox"
              checked={ids.includes(m.id)}
              onChange={(e) => setIds(e.target.checked ? [...ids, m.id] : ids.filter((x) => x !== m.id))}
            />
            {m.name || m.email}
          </label>
        ))}
      </fieldset>
      <button type="submit" className="primary" disabled={save.isPending}>
        {team ? t("common.save") : t("admin.create")}
      </button>
      {onCancel && (
        <button type="button" className="link" onClick={onCancel}>
          {t("common.cancel")}
        </button>
      )}
      <ErrorBanner error={save.error} />
    </form>
  );
}
