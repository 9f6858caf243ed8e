// Boxes over a picture, in the file's own pixels: the faces found (covered or kept visible),
// the boxes the user drags (added), the mosaics `remove` found (outlined). The picture shown
// may be a smaller copy; every box is placed by the file's width, so the numbers sent to the
// server are the file's pixels whatever the window's size.
"use strict";

class BoxOverlay {
  constructor(stage, img, overlay) {
    this.stage = stage;
    this.img = img;
    this.overlay = overlay;
    this.width = 1;
    this.height = 1;
    this.boxes = [];
    this.onDraw = null;
    this.drag = null;
    new ResizeObserver(() => this.render()).observe(stage);
    overlay.addEventListener("pointerdown", (e) => this.startDrag(e));
    overlay.addEventListener("pointermove", (e) => this.moveDrag(e));
    overlay.addEventListener("pointerup", (e) => this.endDrag(e));
  }

  // src: the picture's URL; width, height: the file's pixels.
  show(src, width, height) {
    this.width = width;
    this.height = height;
    this.stage.style.aspectRatio = `${width} / ${height}`;
    return new Promise((resolve) => {
      this.img.onload = () => { this.render(); resolve(); };
      this.img.onerror = () => resolve();
      this.img.src = src;
    });
  }

  get scale() {
    return this.stage.clientWidth / this.width;
  }

  // boxes: [{box: [x0, y0, x1, y1], cls, label, index, title, onClick}]
  setBoxes(boxes) {
    this.boxes = boxes;
    this.render();
  }

  render() {
    const s = this.scale;
    this.overlay.replaceChildren();
    for (const b of this.boxes) {
      const [x0, y0, x1, y1] = b.box;
      const div = document.createElement("div");
      div.className = `box ${b.cls}`;
      div.style.left = `${x0 * s}px`;
      div.style.top = `${y0 * s}px`;
      div.style.width = `${Math.max(1, (x1 - x0) * s)}px`;
      div.style.height = `${Math.max(1, (y1 - y0) * s)}px`;
      if (b.index !== undefined) div.dataset.index = b.index;
      if (b.title) div.title = b.title;
      if (b.label) {
        const tag = document.createElement("span");
        tag.textContent = b.label;
        div.appendChild(tag);
      }
      if (b.onClick) {
        div.setAttribute("role", "button");
        div.tabIndex = 0;
        div.addEventListener("pointerdown", (e) => e.stopPropagation());
        div.addEventListener("click", (e) => { e.stopPropagation(); b.onClick(); });
        div.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") b.onClick(); });
      }
      this.overlay.appendChild(div);
    }
  }

  // The pointer's position in the file's pixels, inside the picture.
  point(e) {
    const r = this.overlay.getBoundingClientRect();
    const s = this.scale;
    const x = Math.min(Math.max((e.clientX - r.left) / s, 0), this.width);
    const y = Math.min(Math.max((e.clientY - r.top) / s, 0), this.height);
    return [x, y];
  }

  startDrag(e) {
    if (!this.onDraw || e.button !== 0) return;
    this.overlay.setPointerCapture(e.pointerId);
    this.drag = {start: this.point(e), div: document.createElement("div")};
    this.drag.div.className = "box drawing";
    this.overlay.appendChild(this.drag.div);
    e.preventDefault();
  }

  moveDrag(e) {
    if (!this.drag) return;
    const box = this.dragBox(e);
    const s = this.scale;
    Object.assign(this.drag.div.style, {left: `${box[0] * s}px`, top: `${box[1] * s}px`,
      width: `${(box[2] - box[0]) * s}px`, height: `${(box[3] - box[1]) * s}px`});
  }

  endDrag(e) {
    if (!this.drag) return;
    const box = this.dragBox(e).map(Math.round);
    this.drag.div.remove();
    this.drag = null;
    if (box[2] - box[0] >= 4 && box[3] - box[1] >= 4) this.onDraw(box);
  }

  dragBox(e) {
    const [ax, ay] = this.drag.start;
    const [bx, by] = this.point(e);
    return [Math.min(ax, bx), Math.min(ay, by), Math.max(ax, bx), Math.max(ay, by)];
  }
}

// The review of one upload's faces: which are covered at the threshold, which the user keeps
// visible (by index into the detections) and which boxes the user added.
class FaceReview {
  constructor(detections) {
    this.faces = detections;  // [{box, score}], best first, down to the review threshold
    this.keep = new Set();
    this.also = [];
  }

  shown(threshold) {
    return this.faces.map((f, i) => ({...f, index: i})).filter((f) => f.score > threshold);
  }

  toggle(index) {
    if (this.keep.has(index)) this.keep.delete(index); else this.keep.add(index);
  }

  // What the job is told: faces scoring at least `threshold` are found again and covered,
  // except the kept ones; the added boxes are covered too. Boxes as x, y, w, h.
  request(threshold) {
    const xywh = ([x0, y0, x1, y1]) => [x0, y0, x1 - x0, y1 - y0];
    const keep = this.shown(threshold).filter((f) => this.keep.has(f.index)).map((f) => xywh(f.box));
    return {keep, also: this.also.map(xywh)};
  }
}

window.BoxOverlay = BoxOverlay;
window.FaceReview = FaceReview;
