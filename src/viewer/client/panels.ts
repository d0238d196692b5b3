/**
 * The interleaving (explorer runs: the schedule as columns per thread, preemptions, the failing step
 * and its checker, the replay string) as a virtualised list, only the rows on screen in the DOM; and
 * the counters and costs at the scrubbed step.
 */

import type { Model } from './model.js';

const ROW_H = 20;

function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls: string, text = ''): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls !== '') e.className = cls;
  e.textContent = text;
  return e;
}

/** The interleaving view. */
export class InterleavingView {
  private readonly body: HTMLElement;
  private readonly spacer: HTMLElement;
  private readonly preempted: Set<number>;

  constructor(
    root: HTMLElement,
    private readonly model: Model,
    private readonly seek: (step: number) => void,
  ) {
    const inter = model.run.interleaving;
    this.preempted = new Set(inter?.preemptions ?? []);
    root.replaceChildren();
    if (inter === null) {
      root.append(el('p', 'note', 'Not an explorer run: no schedule to show.'));
      this.body = el('div', 'rows');
      this.spacer = el('div', 'spacer');
      return;
    }
    const cols = `60px repeat(${model.run.threads.length}, 1fr)`;
    const head = el('div', 'irow head');
    head.style.gridTemplateColumns = cols;
    head.append(el('span', '', 'event'), ...model.run.threads.map((t) => el('span', '', t)));
    const verdict =
      inter.checker === null ? 'every check passed' : `${inter.checker}: ${inter.message ?? ''}`;
    root.append(
      el(
        'p',
        'note',
        `${inter.scenario} on ${inter.driver}; ${inter.preemptions.length} preemption(s), all kept by the shrink; ${verdict}`,
      ),
      el('p', 'replay', inter.replay),
      head,
    );
    this.body = el('div', 'rows');
    this.spacer = el('div', 'spacer');
    this.spacer.style.height = `${model.n * ROW_H}px`;
    this.body.append(this.spacer);
    this.body.style.setProperty('--cols', cols);
    root.append(this.body);
    this.body.addEventListener('scroll', () => this.render(false));
    this.body.addEventListener('click', (e) => {
      const row = (e.target as HTMLElement).closest('[data-event]') as HTMLElement | null;
      if (row !== null) this.seek(Number(row.dataset.event));
    });
  }

  /** Redraws the rows on screen; `follow` scrolls the scrubbed row into view. */
  render(follow = true): void {
    const m = this.model;
    if (m.run.interleaving === null) return;
    const h = this.body.clientHeight || 300;
    if (follow && m.at >= 0) {
      const y = m.at * ROW_H;
      if (y < this.body.scrollTop || y + ROW_H > this.body.scrollTop + h)
        this.body.scrollTop = Math.max(0, y - h / 2);
    }
    const first = Math.max(0, Math.floor(this.body.scrollTop / ROW_H) - 2);
    const last = Math.min(m.n, first + Math.ceil(h / ROW_H) + 4);
    const rows: HTMLElement[] = [];
    for (let i = first; i < last; i++) rows.push(this.row(i));
    this.spacer.replaceChildren(...rows);
  }

  private row(i: number): HTMLElement {
    const m = this.model;
    const inter = m.run.interleaving;
    const kind = m.kind(i);
    const r = el('div', `irow ${kind}`);
    r.dataset.event = String(i);
    r.style.top = `${i * ROW_H}px`;
    r.style.gridTemplateColumns = 'var(--cols)';
    if (i === m.at) r.classList.add('current');
    if (this.preempted.has(i)) r.classList.add('preempt', 'kept');
    if (inter !== null && i === inter.failingStep) r.classList.add('failing');
    r.append(el('span', 'num', String(i)));
    const th = m.run.events.thread[i] as number;
    const text = kind === 'step' ? m.label(i) : `${kind}: ${m.label(i)}`;
    if (kind === 'violation' || kind === 'preempt' || th < 0) {
      const cell = el('span', 'wide', kind === 'violation' ? `!! ${m.label(i)}` : `── ${text} ──`);
      cell.style.gridColumn = `2 / span ${m.run.threads.length}`;
      r.append(cell);
      return r;
    }
    for (let t = 0; t < m.run.threads.length; t++)
      r.append(el('span', t === th ? 'cell' : '', t === th ? text : ''));
    return r;
  }
}

/** The counters and costs at the scrubbed step. */
export class CountersView {
  constructor(
    private readonly root: HTMLElement,
    private readonly model: Model,
  ) {}

  /** Redraws the table at the model's current step. */
  render(): void {
    const m = this.model;
    const c = m.run.counters;
    const s = m.sample();
    const table = el('table', 'counters');
    const head = el('tr', '');
    head.append(el('th', '', 'counter'), el('th', '', 'now'), el('th', '', 'at the end'));
    table.append(head);
    const now = s < 0 ? null : c.values[s];
    const end = c.values[c.values.length - 1];
    for (const k of m.counters) {
      const tr = el('tr', '');
      tr.append(
        el('td', '', c.names[k] ?? ''),
        el('td', 'num', String(now?.[k] ?? 0)),
        el('td', 'num', String(end?.[k] ?? 0)),
      );
      table.append(tr);
    }
    const when = s < 0 ? 'before the first sample' : `sampled after event ${m.counterSteps[s]}`;
    const note = el(
      'p',
      'note',
      `${when}; one sample every ${c.every} event(s); counters that stay 0 are left out`,
    );
    this.root.replaceChildren(note, table);
  }
}
