// Many keywords found in one pass over the text (Aho–Corasick): which of them occur, and
// where. The pre-filters of the secrets rules and of the injection patterns use it, so a text
// is read once however many keywords there are. Keywords and text are compared as given
// (callers lower-case both).

interface Node {
  next: Map<number, number>;
  fail: number;
  /** Indices of the keywords that end at this node (its own and its suffixes'). */
  out: number[];
  depth: number;
}

export class KeywordSet {
  private readonly nodes: Node[] = [{ next: new Map(), fail: 0, out: [], depth: 0 }];

  constructor(readonly keywords: readonly string[]) {
    keywords.forEach((k, i) => {
      if (!k) throw new Error('empty keyword');
      let at = 0;
      for (let j = 0; j < k.length; j++) {
        const c = k.charCodeAt(j);
        let to = this.nodes[at]!.next.get(c);
        if (to === undefined) {
          to = this.nodes.push({ next: new Map(), fail: 0, out: [], depth: j + 1 }) - 1;
          this.nodes[at]!.next.set(c, to);
        }
        at = to;
      }
      this.nodes[at]!.out.push(i);
    });
    // Breadth first: a node's failure link is the longest proper suffix that is in the trie.
    const queue: number[] = [...this.nodes[0]!.next.values()];
    for (let q = 0; q < queue.length; q++) {
      const n = this.nodes[queue[q]!]!;
      for (const [c, to] of n.next) {
        let f = n.fail;
        while (f !== 0 && !this.nodes[f]!.next.has(c)) f = this.nodes[f]!.fail;
        const target = this.nodes[f]!.next.get(c);
        const child = this.nodes[to]!;
        child.fail = target !== undefined && target !== to ? target : 0;
        child.out.push(...this.nodes[child.fail]!.out);
        queue.push(to);
      }
    }
  }

  /** The automaton as a dense table: symbols are the keywords' characters (0 is any other). */
  private table: { symbol: Uint16Array; delta: Int32Array; width: number } | undefined;

  private compile() {
    if (this.table) return this.table;
    const symbol = new Uint16Array(65536);
    let width = 1;
    for (const k of this.keywords)
      for (let j = 0; j < k.length; j++) {
        const c = k.charCodeAt(j);
        if (symbol[c] === 0) symbol[c] = width++;
      }
    const codes: number[] = [0];
    for (let c = 0; c < 65536; c++) if (symbol[c]) codes[symbol[c]!] = c;
    const delta = new Int32Array(this.nodes.length * width);
    // Nodes are numbered in insertion order; fill in breadth-first order so fail targets are done.
    const order: number[] = [0];
    for (let q = 0; q < order.length; q++) order.push(...this.nodes[order[q]!]!.next.values());
    for (const n of order) {
      for (let sym = 1; sym < width; sym++) {
        const to = this.nodes[n]!.next.get(codes[sym]!);
        delta[n * width + sym] =
          to !== undefined ? to : n === 0 ? 0 : delta[this.nodes[n]!.fail * width + sym]!;
      }
    }
    return (this.table = { symbol, delta, width });
  }

  /** Whether each keyword occurs (by index). */
  present(text: string): boolean[] {
    const seen = new Array<boolean>(this.keywords.length).fill(false);
    const { symbol, delta, width } = this.compile();
    let at = 0;
    for (let i = 0; i < text.length; i++) {
      at = delta[at * width + symbol[text.charCodeAt(i)]!]!;
      const out = this.nodes[at]!.out;
      for (let j = 0; j < out.length; j++) seen[out[j]!] = true;
    }
    return seen;
  }

  /** Every occurrence: [keyword index, start offset], in order of their ends. */
  occurrences(text: string): [number, number][] {
    const result: [number, number][] = [];
    const { symbol, delta, width } = this.compile();
    let at = 0;
    for (let i = 0; i < text.length; i++) {
      at = delta[at * width + symbol[text.charCodeAt(i)]!]!;
      for (const k of this.nodes[at]!.out) result.push([k, i + 1 - this.keywords[k]!.length]);
    }
    return result;
  }
}
