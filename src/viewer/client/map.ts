/**
 * The address space map: one lane per VMA (and one for pages outside every VMA), each with a row for
 * the CPU's page table and, beside it, a row for each device's page table and TLB; a cell per
 * recorded page, coloured by its state. Drawn on one canvas, only the columns on screen; zoom and pan
 * change the columns shown (from every page down to single pages); hovering a cell shows its tooltip.
 */

import { CPU_COLORS, DEVICE_COLORS } from './colors.js';
import { hex, type Lane, type Model, prepareCanvas } from './model.js';

const GUTTER = 110;
const ROW = 16;
const HEAD = 16;
const GAP = 8;

interface Row {
  /** 'cpu', or '<dev> pt' / '<dev> tlb'. */
  name: string;
  dev: number;
  table: 'cpu' | 'pt' | 'tlb';
}

interface Placed {
  lane: Lane;
  top: number;
}

/** The map view (see the file comment). */
export class MapView {
  /** Columns per lane shown; zoom 1 fits the widest lane. */
  zoom = 1;
  /** The first column shown. */
  offset = 0;
  private placed: Placed[] = [];
  private readonly rows: Row[];
  private cellW = 1;

  constructor(
    private readonly canvas: HTMLCanvasElement,
    private readonly tip: HTMLElement,
    private readonly model: Model,
  ) {
    this.rows = [{ name: 'cpu', dev: 0, table: 'cpu' }];
    model.run.devices.forEach((d, i) => {
      this.rows.push(
        { name: `${d.name} pt`, dev: i, table: 'pt' },
        { name: `${d.name} tlb`, dev: i, table: 'tlb' },
      );
    });
    canvas.addEventListener('mousemove', (e) => this.hover(e.offsetX, e.offsetY, e.clientX, e.clientY));
    canvas.addEventListener('mouseleave', () => {
      tip.hidden = true;
    });
    canvas.addEventListener('wheel', (e) => this.wheel(e), { passive: false });
  }

  /** Redraws at the model's current step. */
  render(): void {
    const lanes = this.model.lanes();
    const widest = Math.max(1, ...lanes.map((l) => l.pages.length));
    const cssW = this.canvas.clientWidth || 800;
    const visible = Math.max(1, Math.ceil(widest / this.zoom));
    this.offset = Math.max(0, Math.min(this.offset, widest - visible));
    this.cellW = (cssW - GUTTER) / visible;
    const laneH = HEAD + ROW * this.rows.length + GAP;
    const cssH = Math.max(laneH, lanes.length * laneH);
    const ctx = prepareCanvas(this.canvas, cssW, cssH);
    this.placed = lanes.map((lane, i) => ({ lane, top: i * laneH }));
    for (const p of this.placed) this.drawLane(ctx, p, visible);
    this.canvas.dataset.step = String(this.model.at);
  }

  private drawLane(ctx: CanvasRenderingContext2D, p: Placed, visible: number): void {
    ctx.fillStyle = '#222';
    ctx.fillText(p.lane.label, 2, p.top + HEAD / 2);
    const first = Math.floor(this.offset);
    const last = Math.min(p.lane.pages.length, first + visible + 1);
    const w = this.cellW;
    const gap = w >= 4 ? 1 : 0;
    this.rows.forEach((row, r) => {
      const y = p.top + HEAD + r * ROW;
      ctx.fillStyle = '#555';
      ctx.fillText(row.name, 2, y + ROW / 2);
      for (let c = first; c < last; c++) {
        const page = p.lane.pages[c] as number;
        const x = GUTTER + (c - this.offset) * w;
        ctx.fillStyle = this.color(row, page);
        ctx.fillRect(x, y + 1, Math.max(1, w - gap), ROW - 2);
        if (row.table === 'pt' && this.freed(row, page)) {
          ctx.strokeStyle = '#d62728';
          ctx.lineWidth = 2;
          ctx.strokeRect(x + 1, y + 2, Math.max(1, w - gap - 2), ROW - 4);
        }
      }
    });
  }

  private color(row: Row, page: number): string {
    const m = this.model;
    if (row.table === 'cpu')
      return CPU_COLORS[m.run.legend.cpu[m.cpu.state[page] as number] ?? 'none'] ?? '#000';
    const cur = row.table === 'pt' ? m.dev : m.tlb;
    return (
      DEVICE_COLORS[m.run.legend.device[cur.state[cur.cell(row.dev, page)] as number] ?? 'none'] ?? '#000'
    );
  }

  /** A device entry whose page was free (PG_buddy) when it was stored: the use-after-free. */
  private freed(row: Row, page: number): boolean {
    const m = this.model;
    const change = m.dev.change[m.dev.cell(row.dev, page)] as number;
    if (change < 0 || m.dev.state[m.dev.cell(row.dev, page)] === 0) return false;
    return (m.run.strings[m.run.devicePage.flags[change] as number] ?? '').split(',').includes('buddy');
  }

  /** The cell under (x, y) in canvas CSS pixels, or null. */
  private hit(x: number, y: number): { row: Row; page: number } | null {
    for (const p of this.placed) {
      const r = Math.floor((y - p.top - HEAD) / ROW);
      if (r < 0 || r >= this.rows.length || x < GUTTER) continue;
      const c = Math.floor((x - GUTTER) / this.cellW + this.offset);
      const page = p.lane.pages[c];
      if (page === undefined) return null;
      return { row: this.rows[r] as Row, page };
    }
    return null;
  }

  private hover(x: number, y: number, cx: number, cy: number): void {
    const h = this.hit(x, y);
    if (h === null) {
      this.tip.hidden = true;
      return;
    }
    this.tip.textContent = this.describe(h.row, h.page);
    this.tip.hidden = false;
    this.tip.style.left = `${cx + 12}px`;
    this.tip.style.top = `${cy + 12}px`;
  }

  /** The tooltip of a cell: address, table, state, pfn, and the struct page at the time of the change. */
  describe(row: Row, page: number): string {
    const m = this.model;
    const run = m.run;
    const addr = hex((run.pages[page] as number) * 4096);
    const cur = row.table === 'cpu' ? m.cpu : row.table === 'pt' ? m.dev : m.tlb;
    const cell = row.table === 'cpu' ? page : cur.cell(row.dev, page);
    const code = cur.state[cell] as number;
    const state = row.table === 'cpu' ? run.legend.cpu[code] : run.legend.device[code];
    const lines = [`${addr} · ${row.name}`, `state: ${state}`];
    const pfn = cur.pfn[cell] as number;
    if (pfn >= 0) lines.push(`pfn: ${pfn}`);
    const change = cur.change[cell] as number;
    if (row.table === 'cpu' && code !== 0 && change >= 0 && run.legend.cpu[code] === 'device-private') {
      const d = run.cpu.dev?.[change] ?? -1;
      lines.push(`on device: ${d >= 0 ? run.devices[d]?.name : 'unknown'}`);
    }
    const info = row.table === 'cpu' ? run.cpuPage : row.table === 'pt' ? run.devicePage : null;
    if (info !== null && change >= 0 && code !== 0 && (info.refcount[change] as number) >= 0) {
      lines.push(`refcount: ${info.refcount[change]}`, `mapcount: ${info.mapcount[change]}`);
      lines.push(`flags: ${run.strings[info.flags[change] as number] || '-'}`);
      const memcg = info.memcg[change] as number;
      lines.push(`memcg: ${memcg < 0 ? '-' : run.strings[memcg]}`);
    }
    return lines.join('\n');
  }

  private wheel(e: WheelEvent): void {
    e.preventDefault();
    if (e.shiftKey || Math.abs(e.deltaX) > Math.abs(e.deltaY)) {
      this.offset += Math.sign(e.deltaX || e.deltaY) * Math.max(1, 32 / this.cellW);
    } else {
      const x = e.offsetX - GUTTER;
      const atPage = this.offset + Math.max(0, x) / this.cellW;
      this.zoom = Math.max(1, this.zoom * (e.deltaY < 0 ? 1.5 : 1 / 1.5));
      this.render();
      this.offset = atPage - Math.max(0, x) / this.cellW;
    }
    this.render();
  }

  /** The centre of `vpn`'s cell in row `name`, in client pixels (scrolled into view), or null. */
  cellCenter(vpn: number, name: string): { x: number; y: number } | null {
    const r = this.rows.findIndex((row) => row.name === name);
    const page = this.model.run.pages.indexOf(vpn);
    if (r < 0 || page < 0) return null;
    const p = this.placed.find((l) => l.lane.pages.includes(page));
    if (p === undefined) return null;
    const c = p.lane.pages.indexOf(page);
    const visible = (this.canvas.clientWidth - GUTTER) / this.cellW;
    if (c < this.offset || c >= this.offset + visible - 1) {
      this.offset = Math.max(0, c - Math.floor(visible / 2));
      this.render();
    }
    this.canvas.scrollIntoView({ block: 'nearest' });
    const box = this.canvas.getBoundingClientRect();
    return {
      x: box.left + GUTTER + (c - this.offset + 0.5) * this.cellW,
      y: box.top + p.top + HEAD + r * ROW + ROW / 2,
    };
  }
}
