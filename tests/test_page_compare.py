"""Pure unit tests of service/compare.py: where two page images differ, and how it is drawn."""

from __future__ import annotations

from PIL import Image, ImageDraw

from service.compare import CELL_PX, changed_regions, highlighted


def page(*rects: tuple[int, int, int, int], size=(400, 560)) -> Image.Image:
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    for rect in rects:
        draw.rectangle(rect, fill="black")
    return image


def test_identical_pages_have_no_changed_region():
    assert changed_regions(page((50, 50, 200, 60)), page((50, 50, 200, 60))) == []


def test_one_changed_word_is_one_box_around_it():
    boxes = changed_regions(page((50, 50, 200, 60)), page((50, 50, 200, 60), (60, 300, 120, 310)))
    assert len(boxes) == 1
    x0, y0, x1, y1 = boxes[0]
    assert x0 <= 60 and y0 <= 300 and x1 >= 120 and y1 >= 310
    assert x1 - x0 <= 60 + 2 * CELL_PX and y1 - y0 <= 10 + 2 * CELL_PX


def test_distant_changes_are_separate_boxes_top_to_bottom():
    boxes = changed_regions(page(), page((300, 400, 350, 410), (20, 20, 60, 30)))
    assert len(boxes) == 2
    assert boxes[0][1] < boxes[1][1]


def test_faint_anti_aliasing_differences_are_ignored():
    faint = page()
    ImageDraw.Draw(faint).rectangle((10, 10, 390, 550), fill=(240, 240, 240))
    assert changed_regions(page(), faint) == []


def test_pages_of_different_sizes_compare_on_a_white_canvas():
    boxes = changed_regions(page(size=(400, 560)), page((10, 580, 100, 590), size=(400, 600)))
    assert len(boxes) == 1 and boxes[0][3] >= 590


def test_highlighted_page_shows_red_outline_round_each_change():
    new = page((60, 300, 120, 310))
    boxes = changed_regions(page(), new)
    drawn = highlighted(new, boxes).convert("RGB")
    x0, y0, _, _ = boxes[0]
    assert drawn.getpixel((x0 - 1, y0 + 5))[0] > 200 and drawn.getpixel((x0 - 1, y0 + 5))[1] < 60
    assert drawn.getpixel((5, 5)) == (255, 255, 255)  # the rest of the page untouched
