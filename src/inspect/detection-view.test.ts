import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { detectionView, normalizeForDetection, originalSpans } from './detection-view.js';

describe('detection view', () => {
  it('decodes escapes, drops format characters, folds fullwidth, and maps back', () => {
    const raw = 'a\\u0067h%70\u200b_&#120;ｙ';
    const m = normalizeForDetection(raw);
    assert.equal(m.text, 'aghp_xy');
    // "p" came from "%70", "_" from "\u200b_" (the zero-width space went before it).
    assert.deepEqual([m.from[3], m.to[3]], [8, 11]);
    assert.equal(raw.slice(m.from[1], m.to[1]), '\\u0067');
  });

  it('joins adjacent texts so a value split over two is seen, and maps it into both', () => {
    const v = detectionView(['key ghp_ab', 'cdef end']);
    const at = v.text.lastIndexOf('ghp_abcdef');
    assert.ok(at > 0, v.text);
    const spans = originalSpans(v, [{ start: at, end: at + 10, type: 'x' }]);
    assert.deepEqual(
      spans.map((s) => [s.text, s.start, s.end]),
      [
        [0, 4, 10],
        [1, 0, 4],
      ],
    );
  });

  it('does not join texts marked as not joinable', () => {
    const v = detectionView(['ghp_ab', 'type', 'cdef'], [true, false, true]);
    assert.ok(v.text.includes('ghp_abcdef'));
    assert.ok(!v.text.includes('ghp_abtype'));
  });
});
