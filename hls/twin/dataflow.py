"""The streaming twin's timing, cycle by cycle: its processes joined by FIFOs, as the Verilog runs them.

Every process decides in each cycle from what it holds and from its FIFOs' counts at the start of the cycle (a
word pushed in one cycle can be popped from the next; a slot freed by a pop takes a push from the next), as
``mrfpga_fifo`` and the layers' valid/ready ports behave. Only counts move: the values are the golden model's
business (``spec.simulate``). ``run`` streams frames through a chain of layers and returns, per frame, the cycle
its first input word was taken and the cycle its last output word was, as the twin's testbench reports them.
"""

from dataclasses import dataclass, field

from .spec import (
    STREAM_DENSE_DRAIN_CYCLES,
    STREAM_GROUP_FIFO_DEPTH,
    STREAM_LOOP_GAP_CYCLES,
    STREAM_WINDOW_FIFO_DEPTH,
)


@dataclass
class Fifo:
    depth: int
    count: int = 0
    pushed: int = 0
    popped: int = 0

    def can_push(self):
        return self.count < self.depth

    def can_pop(self):
        return self.count > 0

    def push(self):
        self.pushed += 1

    def pop(self):
        self.popped += 1

    def commit(self):
        self.count += self.pushed - self.popped
        self.pushed = self.popped = 0


@dataclass
class Source(Fifo):
    """The testbench's input: the words of ``frames`` frames, one a cycle while taken; the next frame's right
    after (``back_to_back``) or once the previous frame's output was taken."""

    words: int = 1
    frames: int = 1
    back_to_back: bool = False
    depth: int = 1
    taken: int = 0
    firsts: list = field(default_factory=list)
    frames_out: int = 0
    now: int = 0

    def can_pop(self):
        frame = self.taken // self.words
        return frame < self.frames and (self.back_to_back or frame <= self.frames_out)

    def pop(self):
        if self.taken % self.words == 0:
            self.firsts.append(self.now)
        self.taken += 1

    def commit(self):
        pass


@dataclass
class Sink(Fifo):
    """The testbench's output side: always ready; the cycle each frame's last word was taken."""

    words: int = 1
    depth: int = 1
    taken: int = 0
    lasts: list = field(default_factory=list)
    now: int = 0

    def can_push(self):
        return True

    def push(self):
        self.taken += 1
        if self.taken % self.words == 0:
            self.lasts.append(self.now)

    def commit(self):
        pass


class Pipeline:
    """An elementwise layer: a word a cycle through ``depth`` register stages, the whole pipeline held while its
    last stage's word waits for room downstream. ``emits(k)``: whether input word ``k`` of a frame gives an
    output word (pooling writes only where a window completes); every one when None."""

    def __init__(self, depth, source, sink, words=1, emits=None):
        self.stages = [None] * depth  # the frame index of the word each stage holds
        self.source, self.sink, self.words, self.emits = source, sink, words, emits
        self.taken = 0

    def _out(self, k):
        return k is not None and (self.emits is None or self.emits(k))

    def tick(self):
        out = self._out(self.stages[-1])
        if out and not self.sink.can_push():
            return
        if out:
            self.sink.push()
        take = self.source.can_pop()
        if take:
            self.source.pop()
            self.taken += 1
        self.stages = [(self.taken - 1) % self.words if take else None] + self.stages[:-1]


class ChunkedPipeline:
    """A streaming data-term layer with fewer units than a word's values (``stream.stream_data_term_lanes_verilog``):
    a word held ``chunks`` cycles while its chunks go through the units' three stages, each chunk's codes into the
    output word, the word out once its last chunk is in; everything held while the output word waits."""

    def __init__(self, chunks, source, sink):
        self.chunks, self.source, self.sink = chunks, source, sink
        self.held, self.chunk, self.full = False, 0, False
        self.tag_valid, self.tag_last = [False] * 3, [False] * 3

    def tick(self):
        advance = not self.full or self.sink.can_push()
        if self.full and advance:
            self.sink.push()
        if not advance:
            return
        last = self.chunk == self.chunks - 1
        self.tag_valid, self.tag_last, self.full = (
            [self.held, *self.tag_valid[:2]],
            [self.held and last, *self.tag_last[:2]],
            self.tag_valid[2] and self.tag_last[2],
        )
        if not self.held or last:
            self.held, self.chunk = self.source.can_pop(), 0
            if self.held:
                self.source.pop()
        else:
            self.chunk += 1


class StreamDense:
    """The streaming mMAC Dense (``stream.stream_dense_verilog``): the groups stage, its FIFO of groups, the
    steps stage."""

    def __init__(self, group_ends, n_groups, per_group, source, sink):
        self.ends, self.n_groups, self.per_group = group_ends, n_groups, per_group
        self.source, self.sink = source, sink
        self.groups = Fifo(STREAM_GROUP_FIFO_DEPTH)
        self.have, self.gi, self.gap = 0, 0, 0
        self.running, self.g, self.step, self.out_valid = False, 0, 0, False
        self.last = [False] * STREAM_DENSE_DRAIN_CYCLES  # the last step's stages B, C, D

    def tick(self):
        self._groups_stage()
        self._steps_stage()

    def _groups_stage(self):
        if self.gap:
            self.gap -= 1
            return
        end = self.ends[self.gi]
        need = self.have < end
        complete = self.have + need >= end
        if (need and not self.source.can_pop()) or (complete and not self.groups.can_push()):
            return
        if need:
            self.source.pop()
            self.have += 1
        if complete:
            self.groups.push()
            self.gi += 1
            if self.gi == self.n_groups:
                self.have, self.gi, self.gap = 0, 0, STREAM_LOOP_GAP_CYCLES

    def _steps_stage(self):
        first = self.step == 0
        free = self.running or not self.out_valid
        issue = free and (not first or self.groups.can_pop()) and (self.running or not any(self.last))
        taken = self.out_valid and self.sink.can_push()
        if taken:
            self.sink.push()
        frame_last = False
        if issue:
            if first:
                self.groups.pop()
            group_last = self.step + 1 == self.per_group
            frame_last = group_last and self.g + 1 == self.n_groups
            self.step = 0 if group_last else self.step + 1
            if group_last:
                self.g = 0 if frame_last else self.g + 1
            self.running = not frame_last
        if taken:
            self.out_valid = False
        if self.last[-1]:
            self.out_valid = True
        self.last = [issue and frame_last] + self.last[:-1]
        self.groups.commit()


class StreamConv:
    """The streaming mMAC convolution (``stream.stream_conv_verilog``): the walk over the padded positions, its
    FIFO of windows, the core over one window at a time (``per_pixel`` cycles from its start to its pixel out;
    the next one may start the cycle the pixel is taken)."""

    def __init__(self, positions, per_pixel, source, sink):
        self.positions, self.per_pixel = positions, per_pixel
        self.source, self.sink = source, sink
        self.windows = Fifo(STREAM_WINDOW_FIFO_DEPTH)
        self.position, self.gap = 0, 0
        # A pixel in the core, the cycles until it is out, a pixel out and not yet taken.
        self.running, self.left, self.held = False, 0, False

    def tick(self):
        self._walk()
        self._pixels()
        self.windows.commit()

    def _walk(self):
        if self.gap:
            self.gap -= 1
            return
        inside, emits = self.positions[self.position]
        if (inside and not self.source.can_pop()) or (emits and not self.windows.can_push()):
            return
        if inside:
            self.source.pop()
        if emits:
            self.windows.push()
        self.position += 1
        if self.position == len(self.positions):
            self.position, self.gap = 0, STREAM_LOOP_GAP_CYCLES

    def _pixels(self):
        if self.left:
            self.left -= 1
        out = self.held or (self.running and self.left == 0)
        taken = out and self.sink.can_push()
        if taken:
            self.sink.push()
        self.held = out and not taken
        self.running = self.running and self.left > 0
        if not self.running and not self.held and self.windows.can_pop():
            self.windows.pop()
            self.running, self.left = True, self.per_pixel


class Sequential:
    """A layer that reads a whole frame, computes, then writes it, one after the other (hls4ml's io_stream Dense,
    ``plain_stream.PlainStreamDense``): ``in_words`` words taken a cycle each; the computation starts the cycle
    after the last one and its output is out ``per_frame`` cycles later, held until taken; the next frame's first
    word is taken from the cycle after."""

    def __init__(self, in_words, per_frame, source, sink):
        self.in_words, self.per_frame, self.source, self.sink = in_words, per_frame, source, sink
        self.count, self.busy, self.left, self.held = 0, False, 0, False

    def tick(self):
        if self.left:
            self.left -= 1
        done = self.busy and self.left == 0
        out = self.held or done
        taken = out and self.sink.can_push()
        if taken:
            self.sink.push()
        idle = not self.busy and not self.held
        if idle and self.count == self.in_words:
            self.busy, self.left, self.count = True, self.per_frame, 0
        elif idle and self.source.can_pop():
            self.source.pop()
            self.count += 1
        elif done:
            self.busy = False
        self.held = out and not taken


def run(layers, in_words, out_words, frames, back_to_back, fifo_depths=()):
    """Stream ``frames`` frames through ``layers`` (constructors ``make(source, sink)``), joined by FIFOs of
    ``fifo_depths``: ``[(first, out)]`` per frame."""
    source = Source(words=in_words, frames=frames, back_to_back=back_to_back)
    sink = Sink(words=out_words)
    fifos = [Fifo(depth) for depth in fifo_depths]
    ends = [source, *fifos, sink]
    processes = [make(ends[n], ends[n + 1]) for n, make in enumerate(layers)]
    limit = 100_000_000
    for cycle in range(limit):
        if len(sink.lasts) == frames:
            break
        source.now = sink.now = cycle
        source.frames_out = len(sink.lasts)
        for process in processes:
            process.tick()
        for fifo in fifos:
            fifo.commit()
    else:
        raise RuntimeError(f"the dataflow model did not finish {frames} frames in {limit} cycles")
    return list(zip(source.firsts, sink.lasts, strict=True))
