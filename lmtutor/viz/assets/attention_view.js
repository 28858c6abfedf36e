/* lmtutor attention views: head view, model view, pair and encoder-decoder modes.
 * Vanilla JavaScript, no libraries, no network: the data comes from a <script type="application/json">
 * next to the view's root element. Python side: lmtutor/viz/interactive.py.
 */
(function () {
  "use strict";
  var VERSION = 1;
  if (window.LmtAttn && window.LmtAttn.version >= VERSION) return;

  var PALETTE = [[31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189], [140, 86, 75],
    [227, 119, 194], [127, 127, 127], [188, 189, 34], [23, 190, 207], [57, 59, 121], [99, 121, 57]];
  var NEUTRAL = [37, 78, 153];
  var ROW = 20;  // px per token row in the two-column layout

  function headColor(h) {
    if (h < PALETTE.length) return PALETTE[h];
    var hue = (h * 137.5) % 360, s = 0.6, l = 0.45;  // golden-angle hues for more heads
    var c = (1 - Math.abs(2 * l - 1)) * s, x = c * (1 - Math.abs((hue / 60) % 2 - 1)), m = l - c / 2;
    var rgb = hue < 60 ? [c, x, 0] : hue < 120 ? [x, c, 0] : hue < 180 ? [0, c, x] : hue < 240 ? [0, x, c] : hue < 300 ? [x, 0, c] : [c, 0, x];
    return rgb.map(function (v) { return Math.round((v + m) * 255); });
  }
  function rgba(c, a) { return "rgba(" + c[0] + "," + c[1] + "," + c[2] + "," + a.toFixed(3) + ")"; }
  function el(tag, cls, parent, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }
  function bytes(b64) {
    var bin = atob(b64.replace(/-/g, "+").replace(/_/g, "/"));
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  /* One set of maps (L, H, Tq, Tk), 8-bit. Dense: k == Tk weights per query. Long inputs: the k largest
   * weights of each query exactly (idx = their keys) and the rest as sums over blocks of `block` keys. */
  function MapSet(s) {
    for (var key in s) this[key] = s[key];
    this.w = bytes(s.w);
    this.idx = s.idx ? new Uint16Array(bytes(s.idx).buffer) : null;
    this.rest = s.rest ? bytes(s.rest) : null;
    this.nb = s.block ? Math.ceil(s.Tk / s.block) : 0;
    this.counts = new Int32Array(this.nb);
    this.keyTokens = s.kt || s.q;
    this.qSpecial = {}; this.kSpecial = {};
    (s.qs || []).forEach(function (i) { this.qSpecial[i] = true; }, this);
    (s.kt ? s.ks || [] : s.qs || []).forEach(function (i) { this.kSpecial[i] = true; }, this);
  }
  MapSet.prototype.slot = function (l, h, q) { return (l * this.H + h) * this.Tq + q; };
  MapSet.prototype.blockShare = function (slot, blk) {  // rest of a block spread evenly over its other keys
    var size = Math.min(this.block, this.Tk - blk * this.block) - this.counts[blk];
    return size > 0 ? this.rest[slot * this.nb + blk] / size : 0;
  };
  MapSet.prototype.countTop = function (slot) {
    this.counts.fill(0);
    for (var j = 0; j < this.k; j++) this.counts[Math.floor(this.idx[slot * this.k + j] / this.block)]++;
  };
  MapSet.prototype.addRow = function (slot, out) {  // out[key] += weight (0-255 units)
    var k = this.k, b = slot * k, j;
    if (!this.idx) { for (j = 0; j < k; j++) out[j] += this.w[b + j]; return; }
    this.countTop(slot);
    for (var blk = 0; blk < this.nb; blk++) {
      var v = this.blockShare(slot, blk), end = Math.min(this.Tk, (blk + 1) * this.block);
      if (v) for (var key = blk * this.block; key < end; key++) out[key] += v;
    }
    for (j = 0; j < k; j++) {
      var top = this.idx[b + j];
      out[top] += this.w[b + j] - this.blockShare(slot, Math.floor(top / this.block));
    }
  };
  MapSet.prototype.weight = function (slot, key) {  // one weight (0-255 units)
    if (!this.idx) return this.w[slot * this.k + key];
    for (var j = 0; j < this.k; j++) if (this.idx[slot * this.k + j] === key) return this.w[slot * this.k + j];
    this.countTop(slot);
    return this.blockShare(slot, Math.floor(key / this.block));
  };
  MapSet.prototype.row = function (l, heads, q, out) {  // mean over heads of the weights of query q
    out.fill(0);
    for (var n = 0; n < heads.length; n++) this.addRow(this.slot(l, heads[n], q), out);
    for (var i = 0; i < out.length; i++) out[i] /= 255 * heads.length;
    return out;
  };
  MapSet.prototype.col = function (l, heads, key, out) {  // mean over heads of the weights into key
    out.fill(0);
    for (var n = 0; n < heads.length; n++) {
      for (var q = 0; q < this.Tq; q++) out[q] += this.weight(this.slot(l, heads[n], q), key);
    }
    for (var i = 0; i < out.length; i++) out[i] /= 255 * heads.length;
    return out;
  };
  MapSet.prototype.pooled = function (l, heads, size) {  // max-pooled (rows x cols) image of the mean map
    var rows = Math.min(this.Tq, size), cols = Math.min(this.Tk, size), img = new Float32Array(rows * cols);
    var r = new Float32Array(this.Tk);
    for (var q = 0; q < this.Tq; q++) {
      this.row(l, heads, q, r);
      var y = Math.floor(q * rows / this.Tq);
      for (var j = 0; j < this.Tk; j++) {
        var x = Math.floor(j * cols / this.Tk), p = y * cols + x;
        if (r[j] > img[p]) img[p] = r[j];
      }
    }
    return { rows: rows, cols: cols, img: img };
  };

  function paint(canvas, pooled, color) {  // white -> color by sqrt(weight / the map's maximum)
    var ctx = canvas.getContext("2d"), data = ctx.createImageData(pooled.cols, pooled.rows), max = 1e-9;
    canvas.width = pooled.cols; canvas.height = pooled.rows;
    for (var i = 0; i < pooled.img.length; i++) max = Math.max(max, pooled.img[i]);
    for (var p = 0; p < pooled.img.length; p++) {
      var a = Math.sqrt(pooled.img[p] / max);  // the square root keeps weak, spread-out attention visible
      for (var c = 0; c < 3; c++) data.data[4 * p + c] = Math.round(255 - a * (255 - color[c]));
      data.data[4 * p + 3] = 255;
    }
    ctx.putImageData(data, 0, 0);
    return max;
  }

  function View(root, cfg) {
    this.root = root; this.cfg = cfg;
    this.sets = cfg.sets.map(function (s) { return new MapSet(s); });
    this.st = { set: cfg.set || 0, layer: cfg.layer || 0, heads: cfg.heads.slice(), pair: "all", sel: null, pinned: false };
    root.innerHTML = "";
    if (cfg.title) el("div", "lmt-title", root, cfg.title);
    this.controls = el("div", "lmt-controls", root);
    if (cfg.mode === "model") this.grid = el("div", "lmt-grid", root);
    this.status = el("div", "lmt-status", root);
    this.body = el("div", "lmt-body", root);
    this.notes = el("div", "lmt-notes", root);
    this.buildControls();
    this.rebuild();
  }
  View.prototype.set = function () { return this.sets[this.st.set]; };

  View.prototype.select = function (label, role, options, value, onChange) {
    var wrap = el("label", "lmt-ctl", this.controls, label + " ");
    var s = el("select", null, wrap);
    s.setAttribute("data-role", role);
    options.forEach(function (o) { var opt = el("option", null, s, o[1]); opt.value = o[0]; });
    s.value = String(value);
    s.addEventListener("change", function () { onChange(s.value); });
    return s;
  };

  View.prototype.buildControls = function () {
    var self = this, st = this.st, set = this.set();
    this.controls.innerHTML = "";
    if (this.sets.length > 1) {
      this.select("attention", "set", this.sets.map(function (s, i) { return [i, s.label]; }), st.set, function (v) {
        st.set = +v; st.layer = Math.min(st.layer, self.set().L - 1);
        st.heads = self.set().heads.map(function (_, i) { return i; }); st.sel = null; st.pinned = false;
        self.buildControls(); self.rebuild();
      });
    }
    this.select("layer", "layer", set.layers.map(function (l, i) { return [i, String(l)]; }), st.layer, function (v) {
      st.layer = +v; self.refresh();
    });
    var heads = el("span", "lmt-ctl lmt-heads", this.controls, "heads ");
    var all = el("button", "lmt-head lmt-all", heads, "all");
    all.setAttribute("data-head", "all");
    set.heads.forEach(function (h, i) {
      var b = el("button", "lmt-head", heads, String(h));
      b.setAttribute("data-head", i);
      b.style.borderColor = rgba(headColor(i), 1);
    });
    heads.addEventListener("click", function (e) {
      var b = e.target.closest("[data-head]");
      if (!b) return;
      var v = b.getAttribute("data-head"), i = +v;
      if (v === "all") st.heads = set.heads.map(function (_, n) { return n; });
      else if (e.shiftKey || e.ctrlKey || e.metaKey) {
        var at = st.heads.indexOf(i);
        if (at >= 0 && st.heads.length > 1) st.heads.splice(at, 1); else if (at < 0) st.heads.push(i);
      } else st.heads = [i];
      self.refresh();
    });
    if (set.segB != null && set.kind !== "cross" && !this.textMode()) {
      this.select("sentences", "pair", [["all", "all tokens"], ["AA", "A → A"], ["AB", "A → B"], ["BA", "B → A"],
        ["BB", "B → B"]], st.pair, function (v) { st.pair = v; st.sel = null; st.pinned = false; self.rebuild(); });
    }
  };

  View.prototype.textMode = function () {
    var s = this.set();
    return Math.max(s.Tq, s.Tk) > this.cfg.lineLimit;
  };

  View.prototype.range = function (which) {  // visible query / key positions under the sentence-pair filter
    var s = this.set(), n = which === "q" ? s.Tq : s.Tk, seg = which === "q" ? this.st.pair[0] : this.st.pair[1];
    var out = [];
    for (var i = 0; i < n; i++) {
      if (this.st.pair === "all" || (seg === "A") === (i < s.segB)) out.push(i);
    }
    return out;
  };

  View.prototype.rebuild = function () {
    this.body.innerHTML = "";
    this.canvas = this.matrix = this.top = this.matrixKey = null;
    this.st.sel = null; this.st.pinned = false;
    if (this.grid) this.buildGrid();
    if (this.textMode()) this.buildText(); else this.buildLines();
    this.refresh();
  };

  View.prototype.tokenEl = function (parent, text, special, attrs) {
    var t = el("span", "lmt-tok" + (special ? " lmt-special" : ""), parent, text);
    for (var a in attrs) t.setAttribute(a, attrs[a]);
    t.setAttribute("data-weight", "");
    t.tabIndex = 0;
    return t;
  };

  View.prototype.buildLines = function () {
    var s = this.set(), self = this, box = el("div", "lmt-lines", this.body);
    this.qIdx = this.range("q"); this.kIdx = this.range("k");
    var left = el("div", "lmt-col lmt-left", box), canvas = el("canvas", "lmt-canvas", box), right = el("div", "lmt-col lmt-right", box);
    el("div", "lmt-colhead", left, s.kind === "cross" ? "target (queries)" : "queries");
    el("div", "lmt-colhead", right, s.kind === "cross" ? "source (keys)" : "keys");
    this.qEls = this.qIdx.map(function (i) { return self.tokenEl(el("div", "lmt-row", left), s.q[i], s.qSpecial[i], { "data-q": i }); });
    this.kEls = this.kIdx.map(function (j) { return self.tokenEl(el("div", "lmt-row", right), s.keyTokens[j], s.kSpecial[j], { "data-k": j }); });
    var rows = Math.max(this.qIdx.length, this.kIdx.length), dpr = window.devicePixelRatio || 1;
    canvas.style.width = "150px"; canvas.style.height = rows * ROW + "px"; canvas.style.marginTop = ROW + "px";
    canvas.width = Math.round(150 * dpr); canvas.height = Math.round(rows * ROW * dpr);
    this.canvas = canvas; this.dpr = dpr;
    this.listen(box);
  };

  View.prototype.buildText = function () {
    var s = this.set(), self = this, box = el("div", "lmt-textmode", this.body);
    var fig = el("div", "lmt-matrix", box), wrap = el("div", "lmt-matwrap", fig);
    this.matrix = el("canvas", "lmt-matcanvas", wrap);
    this.matrix.setAttribute("data-role", "matrix");
    this.marker = el("div", "lmt-marker", wrap);
    el("div", "lmt-caption", fig, "rows: " + (s.kind === "cross" ? "target" : "query") + " positions 0-" + (s.Tq - 1) +
      ", columns: key positions 0-" + (s.Tk - 1) + "; colour: square root of weight / largest weight" + (s.Tq > 256 || s.Tk > 256 ? "; at most 256 px a side, each pixel the largest weight it covers" : "") +
      ". Tokens are shaded relative to the selected row's largest weight.");
    var paras = el("div", "lmt-paras", box);
    var qp = el("div", "lmt-para", paras);
    var cross = s.kind === "cross";
    if (cross) el("div", "lmt-colhead", qp, "target (hover a token)");
    this.qEls = s.q.map(function (t, i) { return self.tokenEl(qp, t, s.qSpecial[i], cross ? { "data-q": i } : { "data-q": i, "data-k": i }); });
    this.kEls = this.qEls;
    if (cross) {
      var kp = el("div", "lmt-para", paras);
      el("div", "lmt-colhead", kp, "source (shaded by weight)");
      this.kEls = s.keyTokens.map(function (t, j) { return self.tokenEl(kp, t, s.kSpecial[j], { "data-k": j }); });
    }
    this.top = el("div", "lmt-top", box);
    this.qIdx = s.q.map(function (_, i) { return i; }); this.kIdx = s.keyTokens.map(function (_, j) { return j; });
    this.matrix.addEventListener("mousemove", function (e) {
      if (self.st.pinned) return;
      var r = self.matrix.getBoundingClientRect(), q = Math.floor((e.clientY - r.top) / r.height * s.Tq);
      self.choose({ side: "q", i: Math.max(0, Math.min(s.Tq - 1, q)) });
    });
    this.matrix.addEventListener("click", function () { self.st.pinned = !self.st.pinned && self.st.sel != null; self.refresh(); });
    this.listen(paras);
  };

  View.prototype.listen = function (box) {
    var self = this;
    function target(e) {
      var t = e.target.closest("[data-q],[data-k]");
      if (!t) return null;
      return t.hasAttribute("data-q") ? { side: "q", i: +t.getAttribute("data-q") } : { side: "k", i: +t.getAttribute("data-k") };
    }
    box.addEventListener("mouseover", function (e) { var t = target(e); if (t && !self.st.pinned) self.choose(t); });
    box.addEventListener("focusin", function (e) { var t = target(e); if (t && !self.st.pinned) self.choose(t); });
    box.addEventListener("mouseleave", function () { if (!self.st.pinned) self.choose(null); });
    box.addEventListener("click", function (e) {
      var t = target(e);
      if (!t) return;
      var same = self.st.sel && self.st.sel.side === t.side && self.st.sel.i === t.i;
      self.st.pinned = !(self.st.pinned && same);
      self.choose(t);
    });
  };

  View.prototype.choose = function (sel) { this.st.sel = sel; this.refresh(); };

  View.prototype.buildGrid = function () {
    var s = this.set(), self = this, avail = (this.root.clientWidth || 760) - 90;  // room left of the labels
    var size = Math.max(24, Math.min(64, Math.floor(avail / s.H) - 3));
    this.grid.innerHTML = "";
    var table = el("div", "lmt-gridtable", this.grid);
    table.style.gridTemplateColumns = "auto repeat(" + s.H + ", " + size + "px)";
    el("div", "lmt-gridlabel", table, "");
    s.heads.forEach(function (h) { el("div", "lmt-gridlabel", table, "head " + h); });
    this.thumbs = [];
    for (var l = 0; l < s.L; l++) {
      el("div", "lmt-gridlabel", table, "layer " + s.layers[l]);
      for (var h = 0; h < s.H; h++) {
        var c = el("canvas", "lmt-thumb", table);
        c.style.width = size + "px"; c.style.height = size + "px";
        c.setAttribute("data-layer", l); c.setAttribute("data-head", h);
        var max = paint(c, s.pooled(l, [h], 64), NEUTRAL);
        var tip = "layer " + s.layers[l] + ", head " + s.heads[h] + ": largest weight " + max.toFixed(2);
        if (s.dist) tip += ", mean distance " + s.dist[l][h].toFixed(1) + ", entropy " + s.ent[l][h].toFixed(2) + " nats";
        c.title = tip;
        this.thumbs.push(c);
      }
    }
    el("div", "lmt-caption", this.grid, "Click a map to open it below. Colour: square root of the weight over the map's largest weight (dark = largest).");
    table.addEventListener("click", function (e) {
      var c = e.target.closest("canvas[data-layer]");
      if (!c) return;
      self.st.layer = +c.getAttribute("data-layer"); self.st.heads = [+c.getAttribute("data-head")];
      self.buildControls(); self.refresh();
    });
  };

  View.prototype.refresh = function () {
    var t0 = performance.now(), s = this.set(), st = this.st;
    var layerSel = this.controls.querySelector("[data-role=layer]");
    if (layerSel) layerSel.value = String(st.layer);
    this.controls.querySelectorAll("[data-head]").forEach(function (b) {
      var v = b.getAttribute("data-head"), on = v === "all" ? st.heads.length === s.H : st.heads.indexOf(+v) >= 0;
      b.classList.toggle("lmt-on", on);
      if (v !== "all") b.style.background = on ? rgba(headColor(+v), 0.85) : "transparent";
    });
    if (this.thumbs) this.thumbs.forEach(function (c) {
      c.classList.toggle("lmt-picked", +c.getAttribute("data-layer") === st.layer && st.heads.length === 1 && +c.getAttribute("data-head") === st.heads[0]);
    });
    this.shade();
    if (this.canvas) this.drawLines();
    if (this.matrix && this.textMode()) this.drawMatrix();
    this.describe(performance.now() - t0);
  };

  View.prototype.shade = function () {  // colour the other side's tokens by the selected token's weights
    var s = this.set(), st = this.st, sel = st.sel, color = st.heads.length === 1 ? headColor(st.heads[0]) : NEUTRAL;
    var w = null, targets = [];
    if (sel && sel.side === "q") { w = s.row(st.layer, st.heads, sel.i, new Float32Array(s.Tk)); targets = this.kEls; }
    if (sel && sel.side === "k") { w = s.col(st.layer, st.heads, sel.i, new Float32Array(s.Tq)); targets = this.qEls; }
    var all = this.qEls.concat(this.kEls === this.qEls ? [] : this.kEls);
    all.forEach(function (t) { t.style.background = ""; t.setAttribute("data-weight", ""); t.classList.remove("lmt-sel"); t.removeAttribute("title"); });
    if (!w) return;
    var attr = sel.side === "q" ? "data-k" : "data-q", scale = 1;
    if (this.matrix) { scale = 1e-9; for (var i = 0; i < w.length; i++) scale = Math.max(scale, w[i]); }
    targets.forEach(function (t) {
      var v = w[+t.getAttribute(attr)];
      t.style.background = rgba(color, Math.min(1, v / scale));
      t.setAttribute("data-weight", v.toFixed(3));
      t.title = "weight " + v.toFixed(3);
    });
    var own = this.root.querySelector(sel.side === "q" ? "[data-q='" + sel.i + "']" : "[data-k='" + sel.i + "']");
    if (own) own.classList.add("lmt-sel");
    if (this.top && sel.side === "q") this.showTop(w);
  };

  View.prototype.showTop = function (w) {
    var s = this.set(), order = Array.prototype.map.call(w, function (_, j) { return j; });
    order.sort(function (a, b) { return w[b] - w[a]; });
    this.top.textContent = "query " + this.st.sel.i + " “" + s.q[this.st.sel.i] + "” attends most to: " +
      order.slice(0, 8).map(function (j) { return s.keyTokens[j] + " (" + j + ") " + w[j].toFixed(2); }).join(" · ");
  };

  View.prototype.drawLines = function () {
    var s = this.set(), st = this.st, ctx = this.canvas.getContext("2d"), dpr = this.dpr, W = 150 * dpr;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    var qPos = {}, kPos = {}, qIdx = this.qIdx, kIdx = this.kIdx;
    qIdx.forEach(function (q, r) { qPos[q] = (r + 0.5) * ROW * dpr; });
    kIdx.forEach(function (k, r) { kPos[k] = (r + 0.5) * ROW * dpr; });
    var queries = st.sel && st.sel.side === "q" ? [st.sel.i] : qIdx;
    var row = new Float32Array(s.Tk);
    ctx.lineWidth = 2 * dpr;
    st.heads.forEach(function (h) {
      var buckets = [];  // one path per opacity level: fast even for 12 heads x 64 x 64 lines
      for (var b = 0; b <= 20; b++) buckets.push([]);
      queries.forEach(function (q) {
        s.row(st.layer, [h], q, row);
        kIdx.forEach(function (k) {
          if (st.sel && st.sel.side === "k" && k !== st.sel.i) return;
          var level = Math.round(row[k] * 20);
          if (level > 0) buckets[level].push(qPos[q], kPos[k]);
        });
      });
      ctx.strokeStyle = rgba(headColor(h), 1);
      buckets.forEach(function (seg, level) {
        if (!seg.length) return;
        ctx.globalAlpha = level / 20;
        ctx.beginPath();
        for (var i = 0; i < seg.length; i += 2) { ctx.moveTo(0, seg[i]); ctx.lineTo(W, seg[i + 1]); }
        ctx.stroke();
      });
    });
    ctx.globalAlpha = 1;
  };

  View.prototype.drawMatrix = function () {
    var s = this.set(), st = this.st, key = st.set + "/" + st.layer + "/" + st.heads.join(",");
    if (this.matrixKey !== key) {
      paint(this.matrix, s.pooled(st.layer, st.heads, 256), st.heads.length === 1 ? headColor(st.heads[0]) : NEUTRAL);
      this.matrixKey = key;
    }
    var sel = st.sel && st.sel.side === "q" ? st.sel.i : null;
    this.marker.style.display = sel == null ? "none" : "block";
    if (sel != null) this.marker.style.top = (100 * (sel + 0.5) / s.Tq).toFixed(2) + "%";
  };

  View.prototype.describe = function (ms) {
    var s = this.set(), st = this.st, heads = st.heads.map(function (h) { return s.heads[h]; });
    var text = s.label + " · layer " + s.layers[st.layer] + " · " + (heads.length === 1 ? "head " + heads[0] : heads.length === s.H ? "all heads (mean)" : "heads " + heads.join(", ") + " (mean)");
    if (s.dist && heads.length === 1) text += " · mean distance " + s.dist[st.layer][st.heads[0]].toFixed(1) + " tokens, entropy " + s.ent[st.layer][st.heads[0]].toFixed(2) + " nats";
    text += st.pinned ? " · pinned: click the token again to release" : this.textMode() ? " · hover over a token or a row of the matrix; click to pin" : " · hover over a token to see its weights; click to pin; shift-click heads to combine";
    this.status.textContent = text;
    this.root.setAttribute("data-last-draw-ms", ms.toFixed(1));
  };

  /* `script` is the <script> that calls mount: JupyterLab runs output scripts before the output is attached
   * to the page, so the root and its data are looked up next to the script first, then in the document. */
  function mount(id, script) {
    var scope = (script && script.parentNode) || document;
    var root = scope.querySelector("#" + id) || document.getElementById(id);
    var src = scope.querySelector("#" + id + "-data") || document.getElementById(id + "-data");
    if (!root || !src || root.getAttribute("data-ready") === "1") return;
    var t0 = performance.now();
    try {
      var view = new View(root, JSON.parse(src.textContent));
      var ms = performance.now() - t0;
      var notes = view.cfg.notes.slice();
      notes.push("Drawn in " + ms.toFixed(0) + " ms in this browser; all data and code are inside this page.");
      notes.forEach(function (n) { el("div", "lmt-note", view.notes, n); });
      root.setAttribute("data-render-ms", ms.toFixed(1));
      root.setAttribute("data-ready", "1");
      root.lmtView = view;
    } catch (err) {
      root.setAttribute("data-ready", "error");
      el("div", "lmt-note", root, "The attention view could not be drawn: " + err);
    }
  }

  window.LmtAttn = { version: VERSION, mount: mount };
})();
