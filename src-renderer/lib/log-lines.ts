// etcd's log lines name members by their raw ids (hex as types.ID prints them, and decimal in
// "switched to configuration voters=(…)"). The window shows the names the rest of it uses (n1,
// n2…) and keeps the id for the hover. Pure, so tested without a browser.

export interface Member {
  id: string;
  name: string;
}

export type LineSegment = { text: string } | { text: string; id: string; name: string };

/** Ids shorter than this are not looked for: too easy to mistake for some other number. */
const MIN_ID_CHARS = 6;

/** One matcher per set of members (the cluster changes far less often than lines arrive). */
export function peerNamer(members: readonly Member[]): (line: string) => LineSegment[] {
  const forms = new Map<string, Member>();
  for (const m of members) {
    if (!/^[0-9a-f]+$/i.test(m.id)) continue;
    const v = BigInt('0x' + m.id);
    for (const f of [v.toString(16), v.toString(10)]) if (f.length >= MIN_ID_CHARS) forms.set(f, m);
  }
  if (forms.size === 0) return (line) => [{ text: line }];
  const alternatives = [...forms.keys()].sort((a, b) => b.length - a.length).join('|');
  // Whole words only: an id inside a longer hex or decimal run is something else.
  const re = new RegExp(`(?<![0-9A-Za-z])(${alternatives})(?![0-9A-Za-z])`, 'g');
  return (line) => {
    const out: LineSegment[] = [];
    let last = 0;
    for (const m of line.matchAll(re)) {
      const word = m[1]!; // the pattern's one group is not optional
      const member = forms.get(word)!;
      if (m.index > last) out.push({ text: line.slice(last, m.index) });
      out.push({ text: word, id: member.id, name: member.name });
      last = m.index + word.length;
    }
    if (last < line.length) out.push({ text: line.slice(last) });
    return out;
  };
}

/** Within this many pixels of the bottom counts as "at the newest line": keep following. */
export const FOLLOW_SLACK_PX = 8;

export function atBottom(el: { scrollTop: number; clientHeight: number; scrollHeight: number }): boolean {
  return el.scrollTop + el.clientHeight >= el.scrollHeight - FOLLOW_SLACK_PX;
}
