import { useCallback, useEffect, useMemo, useState } from "react";
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, type Conversation, type ConversationFilter, type Me, type Page } from "../api";
import { useI18n } from "../i18n";
import { usePoll } from "../live";
import { keys } from "../realtime";
import { navigate, routePath } from "../router";
import { shortcutFor, step } from "../shortcuts";
import { isUnread, loadSeen, markSeen, saveSeen, type Seen } from "../unread";
import { ConversationList } from "./ConversationList";
import { ConversationView } from "./ConversationView";
import { ShortcutsHelp } from "./ShortcutsHelp";

const FILTER_KEY = "kanal.filter";
const defaultFilter: ConversationFilter = { view: "all", status: "open" };

function loadFilter(): ConversationFilter {
  try {
    const v = JSON.parse(sessionStorage.getItem(FILTER_KEY) ?? "null");
    if (v && (v.view === "mine" || v.view === "unassigned" || v.view === "all")) return v;
  } catch {
    /* ignore */
  }
  return defaultFilter;
}

export function InboxPage({ me, conversationId }: { me: Me; conversationId: string | null }) {
  const { t } = useI18n();
  const qc = useQueryClient();
  const poll = usePoll();
  const [filter, setFilterState] = useState<ConversationFilter>(loadFilter);
  const [seen, setSeen] = useState<Seen>(() => loadSeen());
  const [help, setHelp] = useState(false);

  const setFilter = (f: ConversationFilter) => {
    setFilterState(f);
    try {
      sessionStorage.setItem(FILTER_KEY, JSON.stringify(f));
    } catch {
      /* ignore */
    }
  };

  const list = useInfiniteQuery({
    queryKey: keys.conversations(filter),
    queryFn: ({ pageParam }) => api.conversations(filter, pageParam),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last: Page<Conversation>) => last.next_cursor || undefined,
    refetchInterval: poll,
  });
  const items = useMemo(() => list.data?.pages.flatMap((p) => p.items) ?? [], [list.data]);
  const ids = useMemo(() => items.map((c) => c.id), [items]);

  const open = useQuery({
    queryKey: keys.conversation(conversationId ?? ""),
    queryFn: () => api.conversation(conversationId!),
    enabled: !!conversationId,
    refetchInterval: poll,
  });

  // Opening a conversation (and watching it while open) marks it read.
  useEffect(() => {
    const c = open.data;
    if (!c) return;
    setSeen((s) => {
      const next = markSeen(s, c.id, c.last_activity_at);
      if (next !== s) saveSeen(next);
      return next;
    });
  }, [open.data]);
  const listed = items.find((c) => c.id === conversationId);
  useEffect(() => {
    if (!listed) return;
    setSeen((s) => {
      const next = markSeen(s, listed.id, listed.last_activity_at);
      if (next !== s) saveSeen(next);
      return next;
    });
  }, [listed]);

  const resolve = useMutation({
    mutationFn: (id: string) => api.patchConversation(id, { status: "resolved" }),
    onSuccess: (c) => {
      qc.setQueryData(keys.conversation(c.id), c);
      void qc.invalidateQueries({ queryKey: ["conversations"] });
    },
  });

  const go = useCallback((id: string | null) => navigate(id ? routePath({ name: "inbox", conversationId: id }) : "/"), []);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const a = shortcutFor(e, e.target as HTMLElement | null);
      if (!a) return;
      switch (a) {
        case "next":
        case "prev":
          go(step(ids, conversationId, a === "next" ? 1 : -1));
          break;
        case "reply":
        case "note":
          if (!conversationId) return;
          window.dispatchEvent(new CustomEvent("kanal:compose", { detail: a }));
          break;
        case "resolve":
          if (conversationId) resolve.mutate(conversationId);
          break;
        case "help":
          setHelp((h) => !h);
          break;
        case "escape":
          setHelp(false);
          return;
      }
      e.preventDefault();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [ids, conversationId, go, resolve]);

  return (
    <main className={`inbox ${conversationId ? "has-open" : ""}`}>
      <ConversationList
        me={me}
        filter={filter}
        onFilter={setFilter}
        items={items}
        loading={list.isPending}
        error={list.error}
        hasMore={!!list.hasNextPage}
        loadingMore={list.isFetchingNextPage}
        onMore={() => void list.fetchNextPage()}
        selected={conversationId}
        unread={(c) => isUnread(c, seen) && c.id !== conversationId}
        onOpen={go}
      />
      {conversationId ? (
        <ConversationView key={conversationId} me={me} id={conversationId} onClose={() => go(null)} />
      ) : (
        <section className="empty-pane">
          <p>{t("inbox.pick")}</p>
          <p className="muted">{t("inbox.shortcutsHint")}</p>
        </section>
      )}
      {help && <ShortcutsHelp onClose={() => setHelp(false)} />}
    </main>
  );
}
