// A list that renders only the rows in view (plus a few either side), so tens of thousands of
// decisions cost the page what 30 do. Rows have one fixed height. New rows arrive at the top:
// when the reader has scrolled down, the view is moved by the rows added above it, so what they
// are reading stays put while the stream goes on.
import type { ComponentChildren } from 'preact';
import { useLayoutEffect, useRef, useState } from 'preact/hooks';

const OVERSCAN = 8;

export function VirtualList<T>({
  items,
  added,
  rowHeight,
  label,
  row,
  empty,
}: {
  items: readonly T[];
  /** How many rows have been added at the top in total (it only grows). */
  added: number;
  rowHeight: number;
  label: string;
  row: (item: T, index: number) => ComponentChildren;
  empty: ComponentChildren;
}) {
  const box = useRef<HTMLDivElement>(null);
  const [scroll, setScroll] = useState(0);
  const [height, setHeight] = useState(600);
  const seen = useRef(added);

  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    const delta = added - seen.current;
    seen.current = added;
    if (delta > 0 && el.scrollTop > 0) {
      el.scrollTop += delta * rowHeight;
      setScroll(el.scrollTop);
    }
  }, [added, rowHeight]);

  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setHeight(el.clientHeight));
    ro.observe(el);
    setHeight(el.clientHeight);
    return () => ro.disconnect();
  }, []);

  const first = Math.max(0, Math.floor(scroll / rowHeight) - OVERSCAN);
  const last = Math.min(items.length, Math.ceil((scroll + height) / rowHeight) + OVERSCAN);
  const shown = [];
  for (let i = first; i < last; i++) {
    shown.push(
      <li
        key={i}
        role="listitem"
        aria-setsize={items.length}
        aria-posinset={i + 1}
        style={{ top: `${i * rowHeight}px`, height: `${rowHeight}px` }}
      >
        {row(items[i]!, i)}
      </li>,
    );
  }
  return (
    <div
      class="vlist"
      ref={box}
      onScroll={(e) => setScroll(e.currentTarget.scrollTop)}
      tabIndex={0}
      aria-label={label}
    >
      {items.length === 0 ? (
        <p class="empty">{empty}</p>
      ) : (
        <ul role="list" style={{ height: `${items.length * rowHeight}px` }}>
          {shown}
        </ul>
      )}
    </div>
  );
}
