// Keyboard shortcuts of the inbox. Letters act only when focus is not in a
// text field; Escape always closes what is open.

export type ShortcutAction = "next" | "prev" | "reply" | "note" | "resolve" | "help" | "escape";

export const SHORTCUTS: { key: string; action: ShortcutAction }[] = [
  { key: "j", action: "next" },
  { key: "k", action: "prev" },
  { key: "r", action: "reply" },
  { key: "n", action: "note" },
  { key: "e", action: "resolve" },
  { key: "?", action: "help" },
];

export function shortcutFor(
  e: Pick<KeyboardEvent, "key" | "ctrlKey" | "metaKey" | "altKey">,
  target: { tagName?: string; isContentEditable?: boolean } | null,
): ShortcutAction | null {
  if (e.key === "Escape") return "escape";
  if (e.ctrlKey || e.metaKey || e.altKey) return null;
  const tag = (target?.tagName ?? "").toUpperCase();
  if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || target?.isContentEditable) return null;
  return SHORTCUTS.find((s) => s.key === e.key)?.action ?? null;
}

/** The id next to current in list (dir +1 next, -1 previous); the first one when none is open. */
export function step(ids: string[], current: string | null, dir: 1 | -1): string | null {
  if (ids.length === 0) return null;
  const i = current ? ids.indexOf(current) : -1;
  if (i < 0) return ids[0];
  const j = Math.min(ids.length - 1, Math.max(0, i + dir));
  return ids[j];
}
