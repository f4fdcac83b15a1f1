/** Lines of text as they arrive (from a child's output or a followed file), with waits on them. */

/** The output ended before a wait was satisfied. */
export class LinesEnded extends Error {
  override readonly name = "LinesEnded";
  readonly code = "ended";
}

/** Options of {@link LineLog}. */
export interface LineLogOptions {
  /** Lines kept for waits and tails; older ones are dropped. Default: all. */
  readonly keep?: number;
  /** Sees every complete line once, as it arrives. Default none. */
  readonly onLine?: (line: string) => void;
}

/**
 * Complete lines (without `\n` or `\r\n`) fed as text arrives. Every line has an index counted
 * from the first ever fed, so a wait can start "after what was already seen" (`count`) even when
 * old lines have been dropped.
 */
export class LineLog {
  readonly #keep: number;
  readonly #onLine: ((line: string) => void) | null;
  #lines: string[] = [];
  /** Index of `#lines[0]`. */
  #first = 0;
  #rest = "";
  #ended = false;
  #wake: (() => void)[] = [];

  constructor(options: LineLogOptions = {}) {
    this.#keep = options.keep ?? Infinity;
    this.#onLine = options.onLine ?? null;
  }

  /** The kept lines, oldest first. */
  get lines(): readonly string[] {
    return this.#lines;
  }

  /** Lines fed so far (kept or dropped): pass it as `from` to wait only for later ones. */
  get count(): number {
    return this.#first + this.#lines.length;
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** Adds decoded text; complete lines become visible. Ignored after `end`. */
  feed(text: string): void {
    if (this.#ended) return;
    this.#rest += text;
    let nl: number;
    let added = false;
    while ((nl = this.#rest.indexOf("\n")) >= 0) {
      this.#push(this.#rest.slice(0, nl).replace(/\r$/, ""));
      this.#rest = this.#rest.slice(nl + 1);
      added = true;
    }
    if (added) this.#notify();
  }

  /** Adds one complete line (no `\n`). Ignored after `end`. */
  add(line: string): void {
    if (this.#ended) return;
    this.#push(line);
    this.#notify();
  }

  /** No more text will come; a last unterminated line becomes visible. */
  end(): void {
    if (this.#ended) return;
    if (this.#rest !== "") this.#push(this.#rest.replace(/\r$/, ""));
    this.#rest = "";
    this.#ended = true;
    this.#notify();
  }

  /** Kept lines with index `from` or later. */
  since(from: number): string[] {
    return this.#lines.slice(Math.max(0, from - this.#first));
  }

  /** The last `n` kept lines. */
  tail(n: number): string[] {
    return this.#lines.slice(-n);
  }

  /**
   * Resolves with `pick`'s first answer other than undefined, asked of each line (with its
   * index) from index `from` on, as lines arrive. Rejects with {@link LinesEnded} when the text
   * ends first. Unbounded in time: wrap it in `within`.
   */
  async next<T>(pick: (line: string, index: number) => T | undefined, from = 0): Promise<T> {
    let at = Math.max(from, this.#first);
    while (true) {
      for (; at < this.count; at++) {
        const found = pick(this.#lines[at - this.#first], at);
        if (found !== undefined) return found;
      }
      if (this.#ended) throw new LinesEnded("the output ended");
      await new Promise<void>((resolve) => this.#wake.push(resolve));
      at = Math.max(at, this.#first);
    }
  }

  /** The first line from index `from` on that matches `re`. */
  match(re: RegExp, from = 0): Promise<RegExpExecArray> {
    return this.next((line) => re.exec(line) ?? undefined, from);
  }

  #push(line: string): void {
    this.#lines.push(line);
    if (this.#lines.length > this.#keep) {
      this.#lines.shift();
      this.#first++;
    }
    this.#onLine?.(line);
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = [];
    for (const w of wake) w();
  }
}
