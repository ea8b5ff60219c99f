// A guide tells a story, one chapter a click (as The Secret Lives of Data does): what the user
// was asked to do and why, then what the real cluster did about it (the timeline's sentences,
// narrate.ts). Earlier chapters stay, so the user can scroll back through the whole election,
// replication or membership change. Pure, so tested without a browser.

export type GuideKind = 'election' | 'replication' | 'membership' | 'bootstrap';

export interface Chapter {
  /** 1, 2, 3… */
  n: number;
  title: string;
  explain: string;
  /** The timeline's last seq when the click happened: what comes after is what it caused. */
  since: number;
  /** What happened, kept once the next chapter opens (the timeline keeps only its last items). */
  told?: string[];
}

/** The timeline items a story reads (session.svelte.ts TimelineItem has these fields). */
export interface StoryItem {
  seq: number;
  node: string;
  kind: string;
  text: string;
}

/** Sentences a chapter tells at most; the rest are summed up in one line. */
export const CHAPTER_MAX = 12;

/** Which timeline sentences belong in each guide's story. */
const TOLD: Record<GuideKind, ReadonlySet<string>> = {
  election: new Set(['election', 'vote', 'role', 'action']),
  replication: new Set(['log', 'commit', 'role', 'action', 'client']),
  membership: new Set(['membership', 'log', 'commit', 'role', 'action', 'snapshot']),
  bootstrap: new Set(['membership', 'role', 'action', 'warning']),
};

/**
 * What happened in a chapter: the sentences after its click, up to `until` (the next chapter's
 * click). The user's own commands (node '') are left out: the chapter's title already says them.
 */
export function chapterEvents(kind: GuideKind, since: number, until: number, timeline: readonly StoryItem[]): string[] {
  const told = timeline
    .filter((i) => i.seq > since && i.seq <= until && TOLD[kind].has(i.kind) && !(i.kind === 'action' && i.node === ''))
    .map((i) => i.text);
  if (told.length <= CHAPTER_MAX) return told;
  return [...told.slice(0, CHAPTER_MAX - 1), `… and ${told.length - CHAPTER_MAX + 1} more (see the timeline)`];
}

/** The story with one more chapter, the step just clicked; the chapter before it is closed with what it told. */
export function addChapter(
  kind: GuideKind,
  story: readonly Chapter[],
  step: { title: string; explain: string },
  since: number,
  timeline: readonly StoryItem[],
): Chapter[] {
  const closed = story.map((c, i) =>
    i === story.length - 1 && !c.told ? { ...c, told: chapterEvents(kind, c.since, since, timeline) } : c,
  );
  return [...closed, { n: story.length + 1, title: step.title, explain: step.explain, since }];
}

/** What a chapter tells now: kept if closed, else read live from the timeline. */
export function chapterTold(kind: GuideKind, c: Chapter, timeline: readonly StoryItem[]): string[] {
  return c.told ?? chapterEvents(kind, c.since, Infinity, timeline);
}
