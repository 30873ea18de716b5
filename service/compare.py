"""Where two page images differ: pixel-wise comparison (Pillow's ImageChops) grouped into boxes.

An author changes a template and wants to see *what* moved before integrators get it. The two
versions are rendered with the same data; each pair of pages is compared pixel by pixel, changed
pixels are pooled into a coarse grid (so anti-aliasing noise and one-pixel shifts inside a word
make one region, not hundreds), touching cells are merged into rectangles, and the newer page is
drawn with those rectangles boxed in red.
"""

from __future__ import annotations

from collections import deque

from PIL import Image, ImageChops, ImageDraw

CELL_PX = 12
"""Side of a grid cell: changes closer than this merge into one region."""
THRESHOLD = 48
"""Grey-level difference (0-255) below which a pixel counts as unchanged (anti-aliasing)."""
MERGE_CELLS = 2
"""Changed cells this many cells apart (a word space, a line's leading) belong to one region."""
BOX_COLOUR = (220, 0, 0)
TINT = (255, 220, 0)

Box = tuple[int, int, int, int]


def _same_size(a: Image.Image, b: Image.Image) -> tuple[Image.Image, Image.Image]:
    """Both images on a white canvas of the larger size (pages of different sizes still compare)."""
    size = (max(a.width, b.width), max(a.height, b.height))
    out = []
    for im in (a, b):
        canvas = Image.new("L", size, 255)
        canvas.paste(im.convert("L"), (0, 0))
        out.append(canvas)
    return out[0], out[1]


def _changed_cells(a: Image.Image, b: Image.Image) -> tuple[set[tuple[int, int]], int, int]:
    a, b = _same_size(a, b)
    mask = ImageChops.difference(a, b).point(lambda v: 255 if v > THRESHOLD else 0)
    cols, rows = -(-mask.width // CELL_PX), -(-mask.height // CELL_PX)
    # BOX resampling averages each cell: any changed pixel leaves a non-zero cell.
    grid = mask.resize((cols, rows), Image.Resampling.BOX, reducing_gap=None)
    cells = {(x, y) for y in range(rows) for x in range(cols) if grid.getpixel((x, y))}
    return cells, mask.width, mask.height


def changed_regions(a: Image.Image, b: Image.Image) -> list[Box]:
    """Rectangles (x0, y0, x1, y1 in pixels of the larger image) where ``a`` and ``b`` differ."""
    cells, width, height = _changed_cells(a, b)
    boxes: list[Box] = []
    while cells:
        start = cells.pop()
        todo, group = deque([start]), [start]
        while todo:
            x, y = todo.popleft()
            for nx in range(x - MERGE_CELLS, x + MERGE_CELLS + 1):
                for ny in range(y - MERGE_CELLS, y + MERGE_CELLS + 1):
                    if (nx, ny) in cells:
                        cells.remove((nx, ny))
                        todo.append((nx, ny))
                        group.append((nx, ny))
        xs, ys = [c[0] for c in group], [c[1] for c in group]
        boxes.append((min(xs) * CELL_PX, min(ys) * CELL_PX, min(width, (max(xs) + 1) * CELL_PX),
                      min(height, (max(ys) + 1) * CELL_PX)))
    return sorted(boxes, key=lambda box: (box[1], box[0]))


def highlighted(page: Image.Image, boxes: list[Box]) -> Image.Image:
    """``page`` with every box tinted and outlined in red."""
    base = page.convert("RGB")
    overlay = Image.new("RGB", base.size, TINT)
    tint_mask = Image.new("L", base.size, 0)
    draw_mask = ImageDraw.Draw(tint_mask)
    for box in boxes:
        draw_mask.rectangle(box, fill=90)
    base = Image.composite(overlay, base, tint_mask)
    draw = ImageDraw.Draw(base)
    for x0, y0, x1, y1 in boxes:
        draw.rectangle((max(0, x0 - 2), max(0, y0 - 2), x1 + 2, y1 + 2), outline=BOX_COLOUR, width=3)
    return base


def blank_like(page: Image.Image) -> Image.Image:
    """A white page of ``page``'s size: what a page that one version lacks is compared with."""
    return Image.new("RGB", page.size, (255, 255, 255))
