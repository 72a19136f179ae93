import { createContext, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { applyEventToCache, RealtimeClient, socketURL, type ConnectionStatus, type TypingFrame } from "./realtime";

/** Refetch period while the socket is down. */
export const POLL_MS = 10_000;

interface Live {
  status: ConnectionStatus;
  send: (frame: object) => boolean;
  /** Who is typing where: conversation id → user id → until (ms). */
  typing: Record<string, Record<string, number>>;
}

const LiveCtx = createContext<Live>({ status: "offline", send: () => false, typing: {} });

export function LiveProvider({ meId, children }: { meId: string; children: ReactNode }) {
  const qc = useQueryClient();
  const [status, setStatus] = useState<ConnectionStatus>("connecting");
  const [typing, setTyping] = useState<Live["typing"]>({});
  const clientRef = useRef<RealtimeClient | null>(null);

  useEffect(() => {
    const onTyping = (f: TypingFrame) => {
      if (!f.conversation_id || !f.user_id || f.user_id === meId) return;
      setTyping((prev) => {
        const conv = { ...(prev[f.conversation_id] ?? {}) };
        if (f.typing) conv[f.user_id!] = Date.now() + 6000;
        else delete conv[f.user_id!];
        return { ...prev, [f.conversation_id]: conv };
      });
    };
    const c = new RealtimeClient({
      url: (after) => socketURL(window.location, after),
      onEvent: (ev) => applyEventToCache(qc, ev, meId),
      onResync: () => void qc.invalidateQueries(),
      onStatus: setStatus,
      onTyping,
    });
    clientRef.current = c;
    c.start();
    const presence = () => c.send({ type: "presence", status: document.hidden ? "away" : "online" });
    document.addEventListener("visibilitychange", presence);
    return () => {
      document.removeEventListener("visibilitychange", presence);
      c.stop();
      clientRef.current = null;
    };
  }, [qc, meId]);

  // Typing marks expire on their own if the "stopped" frame is lost.
  useEffect(() => {
    const t = setInterval(() => {
      setTyping((prev) => {
        const now = Date.now();
        let changed = false;
        const next: Live["typing"] = {};
        for (const [conv, users] of Object.entries(prev)) {
          const kept: Record<string, number> = {};
          for (const [u, until] of Object.entries(users)) {
            if (until > now) kept[u] = until;
            else changed = true;
          }
          next[conv] = kept;
        }
        return changed ? next : prev;
      });
    }, 2000);
    return () => clearInterval(t);
  }, []);

  const value = useMemo<Live>(
    () => ({ status, typing, send: (f) => clientRef.current?.send(f) ?? false }),
    [status, typing],
  );
  return <LiveCtx.Provider value={value}>{children}</LiveCtx.Provider>;
}

export function useLive(): Live {
  return useContext(LiveCtx);
}

/** refetchInterval for queries that the socket keeps fresh: polling only while it is down. */
export function usePoll(): number | false {
  return useLive().status === "live" ? false : POLL_MS;
}
