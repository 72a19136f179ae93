import type { Me } from "../api";
import { useI18n } from "../i18n";
import { navigate, routePath } from "../router";
import { InboxesAdmin } from "./Inboxes";
import { TeamsAdmin } from "./Teams";
import { UsersAdmin } from "./Users";
import { SettingsAdmin } from "./Settings";

type Section = "inboxes" | "teams" | "users" | "settings";

export function AdminPage({ me, section }: { me: Me; section: Section }) {
  const { t } = useI18n();
  const can = (p: string) => me.permissions.includes(p as Me["permissions"][number]);
  const sections: { id: Section; show: boolean }[] = [
    { id: "inboxes", show: can("manage_inboxes") },
    { id: "teams", show: can("manage_teams") },
    { id: "users", show: can("manage_users") },
    { id: "settings", show: true },
  ];
  return (
    <main className="page admin">
      <nav className="admin-nav" aria-label={t("nav.admin")}>
        {sections
          .filter((s) => s.show)
          .map((s) => (
            <a
              key={s.id}
              href={routePath({ name: "admin", section: s.id })}
              className={s.id === section ? "active" : ""}
              aria-current={s.id === section ? "page" : undefined}
              onClick={(e) => {
                e.preventDefault();
                navigate(routePath({ name: "admin", section: s.id }));
              }}
              data-testid={`admin-${s.id}`}
            >
              {t(`admin.${s.id}`)}
            </a>
          ))}
      </nav>
      <section className="admin-body">
        {section === "inboxes" && <InboxesAdmin />}
        {section === "teams" && <TeamsAdmin />}
        {section === "users" && <UsersAdmin me={me} />}
        {section === "settings" && <SettingsAdmin me={me} />}
      </section>
    </main>
  );
}
