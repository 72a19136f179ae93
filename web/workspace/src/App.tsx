import { useEffect } from "react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { api, ApiError, setUnauthenticatedHandler, type Me } from "./api";
import { keys } from "./realtime";
import { useI18n } from "./i18n";
import { LiveProvider } from "./live";
import { Login } from "./components/Login";
import { Setup } from "./components/Setup";
import { Shell } from "./components/Shell";

export function App() {
  const qc = useQueryClient();
  const { t } = useI18n();
  const me = useQuery<Me, ApiError>({ queryKey: keys.me, queryFn: api.me, retry: false, staleTime: Infinity });
  const loggedOut = me.isError && me.error.status === 401;
  const setup = useQuery({
    queryKey: ["setup"],
    queryFn: () => api.setupNeeded().catch(() => ({ needed: false })),
    enabled: loggedOut,
    staleTime: Infinity,
  });

  useEffect(() => {
    setUnauthenticatedHandler(() => {
      // Only when we were signed in: back to the login page.
      if (qc.getQueryData(keys.me)) void qc.resetQueries({ queryKey: keys.me });
    });
  }, [qc]);

  const signedIn = (m: Me) => {
    // Drop whatever an earlier session left, but keep the (observed) me query.
    qc.removeQueries({ predicate: (q) => q.queryKey[0] !== keys.me[0] });
    qc.setQueryData(keys.me, m);
  };

  if (me.isPending || (loggedOut && setup.isPending)) {
    return <div className="boot" aria-busy="true">{t("app.loading")}</div>;
  }
  if (loggedOut) {
    return setup.data?.needed ? <Setup onDone={signedIn} /> : <Login onDone={signedIn} />;
  }
  if (me.isError) {
    return (
      <div className="boot">
        <p role="alert">{t("app.unreachable", { message: me.error.message })}</p>
        <button onClick={() => void me.refetch()}>{t("common.retry")}</button>
      </div>
    );
  }
  return (
    <LiveProvider meId={me.data.user.id}>
      <Shell me={me.data} />
    </LiveProvider>
  );
}
