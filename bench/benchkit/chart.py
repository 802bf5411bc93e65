"""chart.py: the throughput rows as a PNG bar chart, in pure Python (zlib + struct).

Why not matplotlib: Debian's python3-matplotlib pulls in numpy, Pillow and fonts, tens of
megabytes that scripts/deps.sh would install on every fresh machine and CI run for one
picture. A horizontal bar chart needs only rectangles and a small bitmap font (5x7,
upper case, digits and a few signs, drawn here), and a PNG writer is twenty lines.
"""
import struct
import zlib

# 5x7 glyphs, rows top to bottom; '#' is ink. Lower case is drawn as upper case.
_GLYPHS = {
    " ": ".....|.....|.....|.....|.....|.....|.....",
    "0": ".###.|#...#|#..##|#.#.#|##..#|#...#|.###.",
    "1": "..#..|.##..|..#..|..#..|..#..|..#..|.###.",
    "2": ".###.|#...#|....#|...#.|..#..|.#...|#####",
    "3": "#####|...#.|..#..|...#.|....#|#...#|.###.",
    "4": "...#.|..##.|.#.#.|#..#.|#####|...#.|...#.",
    "5": "#####|#....|####.|....#|....#|#...#|.###.",
    "6": "..##.|.#...|#....|####.|#...#|#...#|.###.",
    "7": "#####|....#|...#.|..#..|.#...|.#...|.#...",
    "8": ".###.|#...#|#...#|.###.|#...#|#...#|.###.",
    "9": ".###.|#...#|#...#|.####|....#|...#.|.##..",
    "A": ".###.|#...#|#...#|#####|#...#|#...#|#...#",
    "B": "####.|#...#|#...#|####.|#...#|#...#|####.",
    "C": ".###.|#...#|#....|#....|#....|#...#|.###.",
    "D": "###..|#..#.|#...#|#...#|#...#|#..#.|###..",
    "E": "#####|#....|#....|####.|#....|#....|#####",
    "F": "#####|#....|#....|####.|#....|#....|#....",
    "G": ".###.|#...#|#....|#.###|#...#|#...#|.####",
    "H": "#...#|#...#|#...#|#####|#...#|#...#|#...#",
    "I": ".###.|..#..|..#..|..#..|..#..|..#..|.###.",
    "J": "..###|...#.|...#.|...#.|...#.|#..#.|.##..",
    "K": "#...#|#..#.|#.#..|##...|#.#..|#..#.|#...#",
    "L": "#....|#....|#....|#....|#....|#....|#####",
    "M": "#...#|##.##|#.#.#|#.#.#|#...#|#...#|#...#",
    "N": "#...#|#...#|##..#|#.#.#|#..##|#...#|#...#",
    "O": ".###.|#...#|#...#|#...#|#...#|#...#|.###.",
    "P": "####.|#...#|#...#|####.|#....|#....|#....",
    "Q": ".###.|#...#|#...#|#...#|#.#.#|#..#.|.##.#",
    "R": "####.|#...#|#...#|####.|#.#..|#..#.|#...#",
    "S": ".####|#....|#....|.###.|....#|....#|####.",
    "T": "#####|..#..|..#..|..#..|..#..|..#..|..#..",
    "U": "#...#|#...#|#...#|#...#|#...#|#...#|.###.",
    "V": "#...#|#...#|#...#|#...#|#...#|.#.#.|..#..",
    "W": "#...#|#...#|#...#|#.#.#|#.#.#|#.#.#|.#.#.",
    "X": "#...#|#...#|.#.#.|..#..|.#.#.|#...#|#...#",
    "Y": "#...#|#...#|.#.#.|..#..|..#..|..#..|..#..",
    "Z": "#####|....#|...#.|..#..|.#...|#....|#####",
    ".": ".....|.....|.....|.....|.....|.##..|.##..",
    ",": ".....|.....|.....|.....|.##..|..#..|.#...",
    ":": ".....|.##..|.##..|.....|.##..|.##..|.....",
    "/": ".....|....#|...#.|..#..|.#...|#....|.....",
    "-": ".....|.....|.....|#####|.....|.....|.....",
    "(": "...#.|..#..|.#...|.#...|.#...|..#..|...#.",
    ")": ".#...|..#..|...#.|...#.|...#.|..#..|.#...",
    "%": "##...|##..#|...#.|..#..|.#...|#..##|...##",
    "=": ".....|.....|#####|.....|#####|.....|.....",
    "+": ".....|..#..|..#..|#####|..#..|..#..|.....",
    ">": ".#...|..#..|...#.|....#|...#.|..#..|.#...",
    "?": ".###.|#...#|....#|...#.|..#..|.....|..#..",
}
_FONT = {ch: [row for row in glyph.split("|")] for ch, glyph in _GLYPHS.items()}

WHITE, BLACK, GREY = (255, 255, 255), (40, 40, 40), (200, 200, 200)
POSTERN, POSTFIX = (31, 119, 180), (255, 127, 14)


class Canvas:
    """An RGB picture in memory."""

    def __init__(self, width, height, background=WHITE):
        self.width, self.height = width, height
        self.pixels = bytearray(bytes(background) * (width * height))

    def rect(self, x, y, w, h, color):
        """Fills the rectangle (clipped to the canvas)."""
        x0, y0 = max(0, int(x)), max(0, int(y))
        x1, y1 = min(self.width, int(x + w)), min(self.height, int(y + h))
        if x1 <= x0 or y1 <= y0:
            return
        line = bytes(color) * (x1 - x0)
        for row in range(y0, y1):
            start = (row * self.width + x0) * 3
            self.pixels[start:start + len(line)] = line

    def text(self, x, y, text, color=BLACK, scale=2):
        """Draws text with its top left corner at (x, y); returns the x after it."""
        for ch in text.upper():
            glyph = _FONT.get(ch, _FONT["?"])
            for row, bits in enumerate(glyph):
                for col, bit in enumerate(bits):
                    if bit == "#":
                        self.rect(x + col * scale, y + row * scale, scale, scale, color)
            x += 6 * scale
        return x

    def png(self):
        """The picture as PNG bytes (8-bit RGB, no filter)."""
        raw = bytearray()
        stride = self.width * 3
        for row in range(self.height):
            raw.append(0)
            raw += self.pixels[row * stride:(row + 1) * stride]

        def chunk(kind, data):
            return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)
        return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(raw), 9))
                + chunk(b"IEND", b""))


def text_width(text, scale=2):
    return len(text) * 6 * scale


def bar_chart(title, groups, width=1100):
    """groups: [(label, postern value or None, Postfix value or None)]; returns PNG bytes."""
    bar, gap, top, left_pad = 16, 14, 90, 20
    label_width = max([text_width(label) for label, _, _ in groups] + [100]) + left_pad + 16
    height = top + len(groups) * (2 * bar + gap) + 30
    canvas = Canvas(width, height)
    canvas.text(left_pad, 16, title, scale=3)
    legend_x = left_pad
    for name, color in (("postern", POSTERN), ("Postfix", POSTFIX)):
        canvas.rect(legend_x, 56, 20, 14, color)
        legend_x = canvas.text(legend_x + 28, 56, name) + 30
    values = [v for _, a, b in groups for v in (a, b) if v]
    largest = max(values) if values else 1
    plot_width = width - label_width - 120
    canvas.rect(label_width - 2, top - 6, 2, height - top - 20, GREY)
    y = top
    for label, ours, theirs in groups:
        canvas.text(left_pad, y + bar - 7, label)
        for value, color in ((ours, POSTERN), (theirs, POSTFIX)):
            length = plot_width * value / largest if value else 0
            canvas.rect(label_width, y, max(length, 1), bar - 2, color)
            canvas.text(label_width + length + 8, y + 1, f"{value:,.0f}" if value else "N/A")
            y += bar
        y += gap
    return canvas.png()


def throughput_chart(results):
    """The PNG of every throughput row: end to end and accept-only, postern and Postfix."""
    groups = []
    for row in results.get("throughput", []):
        size = "4K" if row["size"] == 4096 else f"{row['size'] // 1024}K"
        leg = "TLS" if row["tls"] else "PLAIN"
        for key, what in (("e2e", "E2E"), ("accept", "ACCEPT")):
            value = lambda mta: (row.get(mta) or {}).get(key)
            groups.append((f"{what} {size} {row['sessions']}S {leg}", value("postern"), value("postfix")))
    return bar_chart("MESSAGES/S: POSTERN VS POSTFIX", groups)
