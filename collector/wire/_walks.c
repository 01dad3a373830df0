/* Walks over bytes, in C: the redaction gate's over a serialized OTLP request and a JSON-string value,
 * tail_sampling's attribute lookups in the spans it holds serialized, and the GenAI view's over a request.
 *
 * `locate` is `wire.locate.locate` (with `span_marks` for spans) written out: it maps the
 * request-level prefilter's hits, given as byte offsets into the request, to the items of the request
 * they fall in, reading only tags and lengths. The Python functions stay the reference: the processor uses
 * them when this module is not built, and tests/processors/test_redaction_native.py checks that both give the same
 * answers. In Python this walk was ~12% of the redaction processor's CPU on the loadgen's LLM profile.
 * `json_tokens` is `wire.json_lexer.json_tokens` (~6%): the string literals and integers of a JSON
 * text that the prefilter's hits overlap, found by a lexer that hops from quote to quote.
 * `attribute_values` reads one attribute's values out of a serialized span without parsing it: the policies
 * that read attributes (llm_cost's trace total, string_attribute, ...) evaluate every pending trace, and a
 * parse of a ~1 KB span to read one value cost ~2 µs (wire.spans.attribute_values is the reference).
 * `number_sum` is llm_cost's whole trace total in one call (wire.spans.number_sum is the reference), and
 * `fnv1a64` the probabilistic policy's hash of each trace id (wire.spans.fnv1a64).
 * `genai_attributes` reads the GenAI view's attributes of every span of a request (genai.view.GenAIView.of is
 * the reference): token_count and cost used to spend ~4.5 µs a span building a Python object for each
 * attribute of each span to find the dozen they read.
 * `unknown_fields` tells the redaction gate whether a request holds fields its schema does not know, which
 * the processor must not pass on; upb's DiscardUnknownFields, which it calls only then, costs ~2.5 µs a span
 * of walking reflection on every request (the parser itself, fed the walk's mutations, is its reference).
 * `count_walk` counts the items of a request refused before it is decoded (wire.count.walk is the reference):
 * in Python the walk cost about what decoding the request would (~9 µs a span on a busy 2-core host).
 *
 * Python imports this module only through collector/wire/native.py, which also names each fallback.
 *
 * The bytes are untrusted: every read is bounds-checked against the buffer, and anything that is not a
 * well-formed message raises ValueError, on which the caller walks the whole request instead. */

#define _GNU_SOURCE /* memmem */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <limits.h>
#include <stdint.h>

#define MAX_FIELD 32 /* the layouts name fields below 32, as the Python walk assumes */

typedef struct {
    const unsigned char *buf;
    Py_ssize_t len;
    const Py_ssize_t *starts;
    const Py_ssize_t *ends;
    Py_ssize_t count;
    PyObject *span_layout; /* the layout object that means "a span: use span_marks" */
} Walk;

static int truncated(void) {
    PyErr_SetString(PyExc_ValueError, "truncated message");
    return -1;
}

/* A base-128 varint at *pos; at most 10 bytes, as protobuf allows. */
static int read_varint(const Walk *w, Py_ssize_t *pos, uint64_t *value) {
    uint64_t result = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (*pos >= w->len) return truncated();
        unsigned char byte = w->buf[(*pos)++];
        if (shift == 63 && byte > 1) break; /* more than 64 bits */
        result |= (uint64_t)(byte & 0x7F) << shift;
        if (byte < 0x80) {
            *value = result;
            return 0;
        }
    }
    PyErr_SetString(PyExc_ValueError, "varint too long");
    return -1;
}

/* Skips a field that is not length-delimited. */
static int skip_scalar(const Walk *w, Py_ssize_t *pos, unsigned wire_type) {
    uint64_t ignored;
    switch (wire_type) {
    case 0: return read_varint(w, pos, &ignored);
    case 1: *pos += 8; return 0;
    case 5: *pos += 4; return 0;
    default:
        PyErr_Format(PyExc_ValueError, "unexpected wire type %u", wire_type);
        return -1;
    }
}

/* The length of a length-delimited field at *pos, moving *pos past it; the item must end by `end`. */
static int read_length(const Walk *w, Py_ssize_t *pos, Py_ssize_t end, Py_ssize_t *size) {
    uint64_t value;
    if (read_varint(w, pos, &value) < 0) return -1;
    if (*pos > end || value > (uint64_t)(end - *pos)) return truncated();
    *size = (Py_ssize_t)value;
    return 0;
}

/* Reads the field at *pos. A scalar is skipped (returns 0); a length-delimited field (returns 1) gives its
 * number and the start of its bytes, with *pos moved to their end. -1: an exception is set. */
static int next_field(const Walk *w, Py_ssize_t *pos, uint64_t *field, Py_ssize_t *item_start) {
    uint64_t tag;
    if (read_varint(w, pos, &tag) < 0) return -1;
    unsigned wire_type = (unsigned)(tag & 7);
    if (wire_type != 2) return skip_scalar(w, pos, wire_type);
    Py_ssize_t size;
    if (read_length(w, pos, w->len, &size) < 0) return -1;
    *item_start = *pos;
    *pos += size;
    *field = tag >> 3;
    return 1;
}

/* bisect_right(ends, start): the first hit that ends after `start`. */
static Py_ssize_t first_hit(const Walk *w, Py_ssize_t start) {
    Py_ssize_t lo = 0, hi = w->count;
    while (lo < hi) {
        Py_ssize_t mid = lo + (hi - lo) / 2;
        if (start < w->ends[mid]) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}

/* Whether a hit overlaps buf[item_start:item_end], given that hits before *h end before item_start's item;
 * advances *h and *next_hit past the hits that end before item_start, as the Python walk does. */
static int overlaps(const Walk *w, Py_ssize_t *h, Py_ssize_t *next_hit, Py_ssize_t item_start,
                    Py_ssize_t item_end, Py_ssize_t end) {
    if (*next_hit >= item_end) return 0;
    while (*h < w->count && w->ends[*h] <= item_start) (*h)++;
    *next_hit = *h < w->count ? w->starts[*h] : end;
    return *next_hit < item_end;
}

/* out[key] as a dict, created on first use. Borrowed reference. */
static PyObject *subdict(PyObject *out, PyObject *key) {
    PyObject *d = PyDict_GetItemWithError(out, key);
    if (d != NULL || PyErr_Occurred()) return d;
    d = PyDict_New();
    if (d == NULL) return NULL;
    int failed = PyDict_SetItem(out, key, d);
    Py_DECREF(d);
    return failed ? NULL : d;
}

static int set_index(PyObject *dict, Py_ssize_t index, PyObject *value) {
    PyObject *key = PyLong_FromSsize_t(index);
    if (key == NULL) return -1;
    int failed = PyDict_SetItem(dict, key, value);
    Py_DECREF(key);
    return failed;
}

static int set_field(PyObject *out, long field, PyObject *value) {
    PyObject *key = PyLong_FromLong(field);
    if (key == NULL) return -1;
    int failed = PyDict_SetItem(out, key, value);
    Py_DECREF(key);
    return failed;
}

/* `_span_marks`: a span's trace_state (3), name (5), attributes (9, by index, with each one's byte range),
 * events (11), links (13) and status (15) that a hit overlaps. */
static PyObject *span_marks(const Walk *w, Py_ssize_t start, Py_ssize_t end) {
    PyObject *out = PyDict_New(), *attributes = PyDict_New(), *events = PyDict_New(), *links = PyDict_New();
    if (!out || !attributes || !events || !links) goto fail;
    Py_ssize_t n_attributes = 0, n_events = 0, n_links = 0;
    Py_ssize_t h = first_hit(w, start);
    Py_ssize_t next_hit = h < w->count ? w->starts[h] : end;
    Py_ssize_t pos = start;
    while (pos < end && next_hit < end) {
        uint64_t field;
        Py_ssize_t item_start;
        int got = next_field(w, &pos, &field, &item_start);
        if (got < 0) goto fail;
        if (got == 0) continue;
        int hit = overlaps(w, &h, &next_hit, item_start, pos, end);
        if (field == 9) {
            if (hit) {
                PyObject *range = Py_BuildValue("(nn)", item_start, pos);
                if (range == NULL || set_index(attributes, n_attributes, range) < 0) {
                    Py_XDECREF(range);
                    goto fail;
                }
                Py_DECREF(range);
            }
            n_attributes++;
        } else if (field == 11) {
            if (hit && set_index(events, n_events, Py_None) < 0) goto fail;
            n_events++;
        } else if (field == 13) {
            if (hit && set_index(links, n_links, Py_None) < 0) goto fail;
            n_links++;
        } else if (hit && (field == 3 || field == 5 || field == 15)) {
            PyObject *whole = PyDict_New();
            if (whole == NULL) goto fail;
            if (set_index(whole, 0, Py_None) < 0 || set_field(out, (long)field, whole) < 0) {
                Py_DECREF(whole);
                goto fail;
            }
            Py_DECREF(whole);
        }
    }
    if (pos > end) {
        truncated();
        goto fail;
    }
    if ((PyDict_GET_SIZE(attributes) && set_field(out, 9, attributes) < 0) ||
        (PyDict_GET_SIZE(events) && set_field(out, 11, events) < 0) ||
        (PyDict_GET_SIZE(links) && set_field(out, 13, links) < 0))
        goto fail;
    Py_DECREF(attributes);
    Py_DECREF(events);
    Py_DECREF(links);
    return out;
fail:
    Py_XDECREF(out);
    Py_XDECREF(attributes);
    Py_XDECREF(events);
    Py_XDECREF(links);
    return NULL;
}

/* `_locate`: {field: {index: nested marks or None}} for the fields `layout` names. */
static PyObject *locate_in(const Walk *w, Py_ssize_t start, Py_ssize_t end, PyObject *layout) {
    PyObject *out = PyDict_New();
    if (out == NULL) return NULL;
    Py_ssize_t seen[MAX_FIELD] = {0};
    Py_ssize_t h = first_hit(w, start);
    Py_ssize_t next_hit = h < w->count ? w->starts[h] : end;
    Py_ssize_t pos = start;
    while (pos < end) {
        if (next_hit >= end) return out; /* no hit left in this message: what follows does not matter */
        uint64_t field;
        Py_ssize_t item_start;
        int got = next_field(w, &pos, &field, &item_start);
        if (got < 0) goto fail;
        if (got == 0 || field >= MAX_FIELD) continue;
        PyObject *key = PyLong_FromLong((long)field);
        if (key == NULL) goto fail;
        PyObject *sub = PyDict_GetItemWithError(layout, key); /* borrowed */
        if (sub == NULL) {
            Py_DECREF(key);
            if (PyErr_Occurred()) goto fail;
            continue;
        }
        Py_ssize_t index = seen[field]++;
        if (!overlaps(w, &h, &next_hit, item_start, pos, end)) {
            Py_DECREF(key);
            continue;
        }
        PyObject *marks;
        if (sub == Py_None) {
            marks = Py_NewRef(Py_None);
        } else if (sub == w->span_layout) {
            marks = span_marks(w, item_start, pos);
        } else if (PyDict_Check(sub)) {
            marks = locate_in(w, item_start, pos, sub);
        } else {
            PyErr_SetString(PyExc_TypeError, "a layout entry must be None, a dict or the span layout");
            marks = NULL;
        }
        PyObject *items = marks ? subdict(out, key) : NULL;
        Py_DECREF(key);
        if (items == NULL || set_index(items, index, marks) < 0) {
            Py_XDECREF(marks);
            goto fail;
        }
        Py_DECREF(marks);
    }
    if (pos != end) {
        truncated();
        goto fail;
    }
    return out;
fail:
    Py_DECREF(out);
    return NULL;
}

/* A list of ints as a C array (caller frees). */
static Py_ssize_t *offsets(PyObject *list, Py_ssize_t *count) {
    if (!PyList_Check(list)) {
        PyErr_SetString(PyExc_TypeError, "hit offsets must be a list");
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(list);
    Py_ssize_t *out = PyMem_Malloc((n ? n : 1) * sizeof(Py_ssize_t));
    if (out == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        out[i] = PyLong_AsSsize_t(PyList_GET_ITEM(list, i));
        if (out[i] == -1 && PyErr_Occurred()) {
            PyMem_Free(out);
            return NULL;
        }
    }
    *count = n;
    return out;
}

PyDoc_STRVAR(locate_doc,
"locate(buf, start, end, layout, starts, ends, span_layout) -> dict\n\n"
"wire.locate.locate over buf[start:end]: the items of the fields `layout` names that the sorted,\n"
"disjoint hits [starts[i], ends[i]) overlap. A layout entry that is `span_layout` gets span_marks.");

static PyObject *locate(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 7) {
        PyErr_SetString(PyExc_TypeError, "locate() takes 7 arguments");
        return NULL;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0) return NULL;
    PyObject *result = NULL;
    Py_ssize_t *starts = NULL, *ends = NULL, n_starts = 0, n_ends = 0;
    Py_ssize_t start = PyLong_AsSsize_t(args[1]);
    Py_ssize_t end = PyLong_AsSsize_t(args[2]);
    if (PyErr_Occurred()) goto done;
    if (!PyDict_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError, "layout must be a dict");
        goto done;
    }
    if (start < 0 || end < start || end > view.len) {
        PyErr_SetString(PyExc_ValueError, "start/end outside the buffer");
        goto done;
    }
    if (!(starts = offsets(args[4], &n_starts)) || !(ends = offsets(args[5], &n_ends))) goto done;
    if (n_starts != n_ends) {
        PyErr_SetString(PyExc_ValueError, "starts and ends differ in length");
        goto done;
    }
    Walk w = {view.buf, view.len, starts, ends, n_starts, args[6]};
    result = locate_in(&w, start, end, args[3]);
done:
    PyMem_Free(starts);
    PyMem_Free(ends);
    PyBuffer_Release(&view);
    return result;
}

/* `unknown_fields`: whether a serialized message holds a field its schema does not know, read the way
 * upb reads it. The schema is collector.wire.schema's table: for each message type (the root is 0) and each
 * field number below `stride`, two bytes: the wire types the parser accepts for the field (bit w for wire
 * type w; 0 for a number the message does not have) and the message type of a length-delimited field that
 * holds a message (NO_CHILD otherwise). A field whose number or wire type the table does not accept is one
 * the parser keeps as an unknown field. Anything this walk cannot read to the end (damage, a group, nesting
 * past the parser's limit) answers "yes", which costs the caller a DiscardUnknownFields and no more. */

#define NO_CHILD 0xFF
#define SCHEMA_MAX_DEPTH 100 /* upb's default recursion limit: deeper bytes never parse */

typedef struct {
    const unsigned char *buf;
    const unsigned char *table;
    Py_ssize_t stride; /* fields per message type */
    Py_ssize_t types;  /* message types in the table */
} Schema;

/* A varint at buf[*pos] before `end`; 0 on success. */
static int schema_varint(const unsigned char *buf, Py_ssize_t *pos, Py_ssize_t end, uint64_t *value) {
    uint64_t result = 0;
    for (int shift = 0; shift < 64 && *pos < end; shift += 7) {
        unsigned char byte = buf[(*pos)++];
        result |= (uint64_t)(byte & 0x7F) << shift;
        if (byte < 0x80) {
            *value = result;
            return 0;
        }
    }
    return -1;
}

/* 1: buf[start:end], a message of type `type`, holds a field the table does not accept (or cannot be read). */
static int holds_unknown(const Schema *s, Py_ssize_t start, Py_ssize_t end, unsigned type, int depth) {
    if (depth > SCHEMA_MAX_DEPTH || (Py_ssize_t)type >= s->types) return 1;
    const unsigned char *row = s->table + (Py_ssize_t)type * s->stride * 2;
    Py_ssize_t pos = start;
    while (pos < end) {
        uint64_t tag, value;
        if (schema_varint(s->buf, &pos, end, &tag) < 0) return 1;
        uint64_t field = tag >> 3;
        unsigned wire_type = (unsigned)(tag & 7);
        if (field == 0 || field >= (uint64_t)s->stride || !(row[field * 2] & (1u << wire_type))) return 1;
        switch (wire_type) {
        case 0:
            if (schema_varint(s->buf, &pos, end, &value) < 0) return 1;
            break;
        case 1:
            if (end - pos < 8) return 1;
            pos += 8;
            break;
        case 5:
            if (end - pos < 4) return 1;
            pos += 4;
            break;
        case 2: {
            if (schema_varint(s->buf, &pos, end, &value) < 0 || value > (uint64_t)(end - pos)) return 1;
            unsigned child = row[field * 2 + 1];
            if (child != NO_CHILD && holds_unknown(s, pos, pos + (Py_ssize_t)value, child, depth + 1)) return 1;
            pos += (Py_ssize_t)value;
            break;
        }
        default:
            return 1; /* groups: upb keeps them only as unknown fields */
        }
    }
    return 0;
}

PyDoc_STRVAR(unknown_fields_doc,
"unknown_fields(buf, table, stride) -> bool\n\n"
"Whether the serialized message in buf holds a field the schema table (collector.wire.schema) does not\n"
"accept, i.e. one the protobuf parser would keep as an unknown field; True also for bytes it cannot read.");

static PyObject *unknown_fields(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "unknown_fields() takes 3 arguments");
        return NULL;
    }
    Py_ssize_t stride = PyLong_AsSsize_t(args[2]);
    if (stride == -1 && PyErr_Occurred()) return NULL;
    Py_buffer view, table;
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0) return NULL;
    if (PyObject_GetBuffer(args[1], &table, PyBUF_SIMPLE) < 0) {
        PyBuffer_Release(&view);
        return NULL;
    }
    PyObject *result = NULL;
    if (stride <= 0 || table.len == 0 || table.len % (stride * 2) != 0) {
        PyErr_SetString(PyExc_ValueError, "the table is not whole rows of `stride` fields");
    } else {
        Schema s = {view.buf, table.buf, stride, table.len / (stride * 2)};
        result = PyBool_FromLong(holds_unknown(&s, 0, view.len, 0, 0));
    }
    PyBuffer_Release(&table);
    PyBuffer_Release(&view);
    return result;
}

/* What json_tokens reports, as wire.json_lexer's T_STRING, T_KEY, T_NUMBER. */
enum { T_STRING, T_KEY, T_NUMBER };

static int is_number_byte(unsigned char c) {
    return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

static int is_blank(unsigned char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

static int append_token(PyObject *out, Py_ssize_t start, Py_ssize_t end, int kind) {
    PyObject *token = Py_BuildValue("(nni)", start, end, kind);
    if (token == NULL) return -1;
    int failed = PyList_Append(out, token);
    Py_DECREF(token);
    return failed;
}

/* Integers of 7 digits or more (an optional leading '-') among the runs of number bytes that the hits
 * overlap in raw[a:b], a stretch outside every literal; *h is the first hit that ends after a. */
static int numbers_in(PyObject *out, const unsigned char *raw, Py_ssize_t a, Py_ssize_t b, const Py_ssize_t *hs,
                      const Py_ssize_t *he, Py_ssize_t nh, Py_ssize_t h) {
    Py_ssize_t pos = a;
    for (; h < nh && hs[h] < b; h++) {
        if (pos < hs[h]) pos = hs[h];
        Py_ssize_t stop = he[h] < b ? he[h] : b;
        while (pos < stop) {
            if (!is_number_byte(raw[pos])) {
                pos++;
                continue;
            }
            Py_ssize_t start = pos, end = pos;
            while (start > a && is_number_byte(raw[start - 1])) start--;
            while (end < b && is_number_byte(raw[end])) end++;
            Py_ssize_t first = start + (raw[start] == '-'), digits = 0;
            for (Py_ssize_t i = first; i < end && raw[i] >= '0' && raw[i] <= '9'; i++) digits++;
            if (digits == end - first && digits >= 7 && append_token(out, start, end, T_NUMBER) < 0) return -1;
            pos = end;
        }
    }
    return 0;
}

PyDoc_STRVAR(json_tokens_doc,
"json_tokens(raw, hits) -> list\n\n"
"wire.json_lexer.json_tokens: the string literals (quotes included) and integers of the valid\n"
"JSON text `raw` that the sorted, disjoint (start, end) hits overlap, as sorted (start, end, kind).");

static PyObject *json_tokens(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "json_tokens() takes 2 arguments");
        return NULL;
    }
    if (!PyList_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "hits must be a list");
        return NULL;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0) return NULL;
    const unsigned char *raw = view.buf;
    Py_ssize_t n = view.len, nh = PyList_GET_SIZE(args[1]);
    PyObject *out = NULL;
    Py_ssize_t *hs = PyMem_Malloc((nh ? nh : 1) * 2 * sizeof(Py_ssize_t)), *he = hs + (nh ? nh : 1);
    if (hs == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    /* Clipped to the text; empty ones dropped, since they overlap nothing. */
    Py_ssize_t kept = 0;
    for (Py_ssize_t i = 0; i < nh; i++) {
        Py_ssize_t s, e;
        if (!PyArg_ParseTuple(PyList_GET_ITEM(args[1], i), "nn", &s, &e)) goto done;
        if (s < 0) s = 0;
        if (e > n) e = n;
        if (s < e) {
            hs[kept] = s;
            he[kept++] = e;
        }
    }
    nh = kept;
    if ((out = PyList_New(0)) == NULL) goto done;
    Py_ssize_t pos = 0, h = 0;
    while (h < nh) {
        /* Outside every literal from pos to the next quote. */
        const unsigned char *q = memchr(raw + pos, '"', n - pos);
        Py_ssize_t open = q ? q - raw : n;
        while (h < nh && he[h] <= pos) h++;
        if (h < nh && hs[h] < open && numbers_in(out, raw, pos, open, hs, he, nh, h) < 0) goto fail;
        if (open >= n) break;
        /* A literal: its closing quote is the first one not escaped by an odd run of backslashes. */
        Py_ssize_t close = open + 1;
        for (;;) {
            q = memchr(raw + close, '"', n - close);
            if (q == NULL) {
                close = n - 1;
                break;
            }
            close = q - raw;
            Py_ssize_t slashes = 0;
            while (close - slashes - 1 > open && raw[close - slashes - 1] == '\\') slashes++;
            if (!(slashes & 1)) break;
            close++;
        }
        while (h < nh && he[h] <= open) h++;
        if (h < nh && hs[h] <= close) {
            Py_ssize_t after = close + 1;
            while (after < n && is_blank(raw[after])) after++;
            int kind = after < n && raw[after] == ':' ? T_KEY : T_STRING;
            if (append_token(out, open, close + 1, kind) < 0) goto fail;
        }
        pos = close + 1;
    }
    goto done;
fail:
    Py_CLEAR(out);
done:
    PyMem_Free(hs);
    PyBuffer_Release(&view);
    return out;
}

/* A serialized KeyValue buf[0:len]: its key's bytes in *kstart, *ksize and its value's in *vstart, *vsize (0, 0
 * for none). A value in more than one occurrence would be merged by a parser: ValueError, as for any damage. */
static int read_key_value(const unsigned char *buf, Py_ssize_t len, Py_ssize_t *kstart, Py_ssize_t *ksize,
                          Py_ssize_t *vstart, Py_ssize_t *vsize) {
    Walk w = {buf, len, NULL, NULL, 0, NULL};
    Py_ssize_t pos = 0, item;
    int values = 0;
    *kstart = *ksize = *vstart = *vsize = 0;
    while (pos < len) {
        uint64_t field;
        int r = next_field(&w, &pos, &field, &item);
        if (r < 0) return -1;
        if (pos > len) return truncated();
        if (r == 0) continue;
        if (field == 1) { /* a string: the last occurrence wins */
            *kstart = item;
            *ksize = pos - item;
        } else if (field == 2) {
            if (++values > 1) {
                PyErr_SetString(PyExc_ValueError, "a KeyValue's value in several occurrences");
                return -1;
            }
            *vstart = item;
            *vsize = pos - item;
        }
    }
    return 0;
}

/* Whether the serialized KeyValue buf[0:len] has key `key`; its value's bytes in *vstart, *vsize. */
static int key_value(const unsigned char *buf, Py_ssize_t len, const char *key, Py_ssize_t klen,
                     int *matched, Py_ssize_t *vstart, Py_ssize_t *vsize) {
    Py_ssize_t kstart, ksize;
    if (read_key_value(buf, len, &kstart, &ksize, vstart, vsize) < 0) return -1;
    *matched = ksize == klen && memcmp(buf + kstart, key, (size_t)klen) == 0;
    return 0;
}

PyDoc_STRVAR(attribute_values_doc,
"attribute_values(message, key) -> list of bytes\n\n"
"The serialized AnyValue of every attribute (field 9: KeyValue) of a serialized Span whose key is `key`\n"
"(UTF-8 bytes), in order; b\"\" for one without a value. tail_sampling's lookups in held spans\n"
"(span_attribute_values). ValueError if the bytes are not a well-formed message.");

static PyObject *attribute_values(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "attribute_values() takes 2 arguments");
        return NULL;
    }
    if (!PyBytes_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "key must be bytes");
        return NULL;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0) return NULL;
    const unsigned char *raw = view.buf;
    const char *key = PyBytes_AS_STRING(args[1]);
    Py_ssize_t n = view.len, klen = PyBytes_GET_SIZE(args[1]);
    Walk w = {raw, n, NULL, NULL, 0, NULL};
    PyObject *out = PyList_New(0);
    Py_ssize_t pos = 0;
    while (out != NULL && pos < n) {
        uint64_t field;
        Py_ssize_t item, vstart, vsize;
        int matched, r = next_field(&w, &pos, &field, &item);
        if (r >= 0 && pos > n) r = truncated();
        if (r < 0 || (r == 1 && field == 9 && key_value(raw + item, pos - item, key, klen, &matched, &vstart, &vsize) < 0)) {
            Py_CLEAR(out);
            break;
        }
        if (r == 1 && field == 9 && matched) {
            PyObject *value = PyBytes_FromStringAndSize((const char *)raw + item + vstart, vsize);
            if (value == NULL || PyList_Append(out, value) < 0) Py_CLEAR(out);
            Py_XDECREF(value);
        }
    }
    PyBuffer_Release(&view);
    return out;
}

/* The AnyValue oneof members (common.proto): the wire type each must have. A mismatch is not something upb would
 * read as that member, so it is reported as damage and the caller parses instead. */
static const int ANY_WIRE_TYPE[9] = {-1, 2, 0, 0, 1, 2, 2, 2, 0};

/* What a parser reads from a serialized AnyValue: the oneof member it holds (the last present on the wire; 0 for
 * none) and that member's scalar. Messages and bytes (members 5-7) are only named: readers parse them. */
typedef struct {
    int member;
    Py_ssize_t start, size; /* member 1: the string's bytes */
    uint64_t varint;        /* members 2, 3 and 8 */
    double number;          /* member 4 */
} AnyRead;

static int read_any(const unsigned char *buf, Py_ssize_t len, AnyRead *out) {
    Walk w = {buf, len, NULL, NULL, 0, NULL};
    Py_ssize_t pos = 0;
    out->member = 0;
    while (pos < len) {
        uint64_t tag;
        if (read_varint(&w, &pos, &tag) < 0) return -1;
        uint64_t field = tag >> 3;
        unsigned wire_type = (unsigned)(tag & 7);
        int member = field >= 1 && field <= 8 ? (int)field : 0;
        if (member && (int)wire_type != ANY_WIRE_TYPE[member]) {
            PyErr_SetString(PyExc_ValueError, "an AnyValue member with an unexpected wire type");
            return -1;
        }
        if (member) out->member = member;
        if (wire_type == 0 && member) {
            if (read_varint(&w, &pos, &out->varint) < 0) return -1;
        } else if (member == 4) {
            if (len - pos < 8) return truncated();
            uint64_t bits = 0;
            for (int i = 7; i >= 0; i--) bits = (bits << 8) | buf[pos + i];
            memcpy(&out->number, &bits, sizeof out->number);
            pos += 8;
        } else if (wire_type == 2) {
            Py_ssize_t size;
            if (read_length(&w, &pos, len, &size) < 0) return -1;
            if (member == 1) {
                out->start = pos;
                out->size = size;
            }
            pos += size;
        } else if (skip_scalar(&w, &pos, wire_type) < 0) {
            return -1;
        }
        if (pos > len) return truncated();
    }
    return 0;
}

/* The number a serialized AnyValue holds: 1 with *out set for int_value or double_value, 0 for any other kind
 * or none, -1 on damage. */
static int any_number(const unsigned char *buf, Py_ssize_t len, double *out) {
    AnyRead any;
    if (read_any(buf, len, &any) < 0) return -1;
    if (any.member == 3) *out = (double)(int64_t)any.varint;
    else if (any.member == 4) *out = any.number;
    else return 0;
    return 1;
}

PyDoc_STRVAR(number_sum_doc,
"number_sum(spans, key) -> float\n\n"
"The sum of every int or double value of the attribute `key` (UTF-8 bytes) over a list of serialized Spans,\n"
"in order: tail_sampling's trace total of gen_ai.usage.cost (trace_cost) in one call. Values of other kinds\n"
"count for nothing. ValueError if a span holding the key is not well-formed.");

static PyObject *number_sum(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "number_sum() takes 2 arguments");
        return NULL;
    }
    if (!PyList_Check(args[0]) || !PyBytes_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "number_sum(list of bytes, bytes)");
        return NULL;
    }
    const char *key = PyBytes_AS_STRING(args[1]);
    Py_ssize_t klen = PyBytes_GET_SIZE(args[1]);
    if (klen > 127) {
        PyErr_SetString(PyExc_ValueError, "key longer than 127 bytes");
        return NULL;
    }
    /* The wire form of the KeyValue's key field: a span without it has no such attribute. */
    unsigned char needle[129];
    needle[0] = 0x0a;
    needle[1] = (unsigned char)klen;
    memcpy(needle + 2, key, (size_t)klen);
    double total = 0.0;
    PyObject *spans = args[0];
    for (Py_ssize_t s = 0; s < PyList_GET_SIZE(spans); s++) {
        PyObject *item = PyList_GET_ITEM(spans, s);
        if (!PyBytes_Check(item)) {
            PyErr_SetString(PyExc_TypeError, "spans must be bytes");
            return NULL;
        }
        const unsigned char *raw = (const unsigned char *)PyBytes_AS_STRING(item);
        Py_ssize_t n = PyBytes_GET_SIZE(item);
        if (memmem(raw, (size_t)n, needle, (size_t)klen + 2) == NULL) continue;
        Walk w = {raw, n, NULL, NULL, 0, NULL};
        Py_ssize_t pos = 0;
        while (pos < n) {
            uint64_t field;
            Py_ssize_t at, vstart, vsize;
            int matched, r = next_field(&w, &pos, &field, &at);
            if (r >= 0 && pos > n) r = truncated();
            if (r < 0) return NULL;
            if (r == 0 || field != 9) continue;
            if (key_value(raw + at, pos - at, key, klen, &matched, &vstart, &vsize) < 0) return NULL;
            double number;
            if (matched) {
                int found = any_number(raw + at + vstart, vsize, &number);
                if (found < 0) return NULL;
                if (found) total += number;
            }
        }
    }
    return PyFloat_FromDouble(total);
}

PyDoc_STRVAR(fnv1a64_doc,
"fnv1a64(data, state) -> int\n\n"
"FNV-1a 64 of `data` continued from `state` (the offset basis, or the state after a salt): tail_sampling's\n"
"probabilistic policy hashes every trace id with it, as otelcol does.");

static PyObject *fnv1a64(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "fnv1a64() takes 2 arguments");
        return NULL;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0) return NULL;
    uint64_t h = PyLong_AsUnsignedLongLong(args[1]);
    if (h == (uint64_t)-1 && PyErr_Occurred()) {
        PyBuffer_Release(&view);
        return NULL;
    }
    const unsigned char *p = view.buf;
    for (Py_ssize_t i = 0; i < view.len; i++) h = (h ^ p[i]) * 0x100000001B3ULL;
    PyBuffer_Release(&view);
    return PyLong_FromUnsignedLongLong(h);
}

/* Room for the GenAI conventions' keys (genai/conventions.py SLOT_KEYS), with space to grow. */
#define MAX_KEYS 128
#define HASH_SIZE 256

/* genai_attributes' table, read from the tuple the caller built once (wire.slots.slot_table). */
typedef struct {
    Py_ssize_t keys, slots;
    const char *key[MAX_KEYS];
    Py_ssize_t klen[MAX_KEYS];
    int slot[MAX_KEYS], rank[MAX_KEYS];
    PyObject *key_str[MAX_KEYS];   /* borrowed from the table */
    PyObject *slot_name[MAX_KEYS]; /* borrowed from the table */
    /* Chained hash of the keys: a span's attributes are mostly not known keys, and the known ones share long
     * prefixes ("gen_ai.usage."), so comparing each against every key cost more than the rest of the walk. */
    int head[HASH_SIZE], next[MAX_KEYS]; /* key index + 1; 0 ends a chain */
} SlotTable;

static unsigned key_hash(const char *key, Py_ssize_t len) {
    if (len == 0) return 0;
    unsigned h = (unsigned)len;
    h = h * 31u + (unsigned char)key[len - 1];
    h = h * 31u + (unsigned char)key[len / 2];
    return h & (HASH_SIZE - 1);
}

static int find_key(const SlotTable *t, const char *key, Py_ssize_t len) {
    for (int k = t->head[key_hash(key, len)]; k; k = t->next[k - 1]) {
        if (t->klen[k - 1] == len && memcmp(t->key[k - 1], key, (size_t)len) == 0) return k - 1;
    }
    return -1;
}

static int load_table(PyObject *table, SlotTable *t) {
    if (!PyTuple_Check(table) || PyTuple_GET_SIZE(table) != 5) goto bad;
    PyObject *keys = PyTuple_GET_ITEM(table, 0), *strs = PyTuple_GET_ITEM(table, 1);
    PyObject *slots = PyTuple_GET_ITEM(table, 2), *ranks = PyTuple_GET_ITEM(table, 3);
    PyObject *names = PyTuple_GET_ITEM(table, 4);
    if (!PyTuple_Check(keys) || !PyTuple_Check(strs) || !PyTuple_Check(slots) || !PyTuple_Check(ranks) || !PyTuple_Check(names)) goto bad;
    t->keys = PyTuple_GET_SIZE(keys);
    t->slots = PyTuple_GET_SIZE(names);
    if (t->keys > MAX_KEYS || t->slots > MAX_KEYS) {
        PyErr_Format(PyExc_OverflowError, "a slot table holds at most %d keys and %d slots", MAX_KEYS, MAX_KEYS);
        return -1;
    }
    if (PyTuple_GET_SIZE(strs) != t->keys || PyTuple_GET_SIZE(slots) != t->keys || PyTuple_GET_SIZE(ranks) != t->keys) goto bad;
    for (Py_ssize_t i = 0; i < t->keys; i++) {
        PyObject *key = PyTuple_GET_ITEM(keys, i);
        if (!PyBytes_Check(key)) goto bad;
        t->key[i] = PyBytes_AS_STRING(key);
        t->klen[i] = PyBytes_GET_SIZE(key);
        t->key_str[i] = PyTuple_GET_ITEM(strs, i);
        long slot = PyLong_AsLong(PyTuple_GET_ITEM(slots, i)), rank = PyLong_AsLong(PyTuple_GET_ITEM(ranks, i));
        if (PyErr_Occurred() || slot < 0 || slot >= t->slots || rank < 0 || rank >= INT_MAX) goto bad;
        t->slot[i] = (int)slot;
        t->rank[i] = (int)rank;
    }
    for (Py_ssize_t i = 0; i < t->slots; i++) t->slot_name[i] = PyTuple_GET_ITEM(names, i);
    memset(t->head, 0, sizeof t->head);
    for (Py_ssize_t i = t->keys - 1; i >= 0; i--) { /* chains in table order: a duplicate key finds its first */
        unsigned h = key_hash(t->key[i], t->klen[i]);
        t->next[i] = t->head[h];
        t->head[h] = (int)i + 1;
    }
    return 0;
bad:
    if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "table must be (keys, key strs, slots, ranks, slot names)");
    return -1;
}

/* (key, member, value) for a serialized AnyValue: value is the str, bool, int or float the member holds, the
 * AnyValue's own bytes for members 5-7 (array, kvlist, bytes), None for none. */
static PyObject *slot_entry(const unsigned char *buf, Py_ssize_t len, PyObject *key) {
    AnyRead any;
    if (read_any(buf, len, &any) < 0) return NULL;
    PyObject *value;
    switch (any.member) {
    case 0: value = Py_NewRef(Py_None); break;
    case 1: value = PyUnicode_DecodeUTF8((const char *)buf + any.start, any.size, NULL); break;
    case 2: value = PyBool_FromLong(any.varint != 0); break;
    case 3: value = PyLong_FromLongLong((long long)(int64_t)any.varint); break;
    case 4: value = PyFloat_FromDouble(any.number); break;
    case 8: value = PyLong_FromLong((long)(int32_t)any.varint); break;
    default: value = PyBytes_FromStringAndSize((const char *)buf, len); break;
    }
    if (value == NULL) return NULL;
    PyObject *member = PyLong_FromLong(any.member);
    if (member == NULL) {
        Py_DECREF(value);
        return NULL;
    }
    PyObject *entry = PyTuple_Pack(3, key, member, value);
    Py_DECREF(member);
    Py_DECREF(value);
    return entry;
}

/* One span's known attributes: {slot name: (key, member, value)}, the best-ranked key of each slot winning
 * (the first occurrence of it); None when the span has none. */
static PyObject *span_slots(const unsigned char *buf, Py_ssize_t len, const SlotTable *t) {
    int best[MAX_KEYS], winner[MAX_KEYS];
    Py_ssize_t vstart[MAX_KEYS], vsize[MAX_KEYS];
    int found = 0;
    for (Py_ssize_t i = 0; i < t->slots; i++) best[i] = INT_MAX;
    Walk w = {buf, len, NULL, NULL, 0, NULL};
    Py_ssize_t pos = 0;
    while (pos < len) {
        uint64_t field;
        Py_ssize_t item, ks, kz, vs, vz;
        int r = next_field(&w, &pos, &field, &item);
        if (r >= 0 && pos > len) r = truncated();
        if (r < 0) return NULL;
        if (r == 0 || field != 9) continue;
        if (read_key_value(buf + item, pos - item, &ks, &kz, &vs, &vz) < 0) return NULL;
        int k = find_key(t, (const char *)buf + item + ks, kz);
        if (k < 0) continue;
        int slot = t->slot[k];
        if (t->rank[k] < best[slot]) {
            best[slot] = t->rank[k];
            winner[slot] = k;
            vstart[slot] = item + vs;
            vsize[slot] = vz;
            found = 1;
        }
    }
    if (!found) Py_RETURN_NONE;
    PyObject *out = PyDict_New();
    for (Py_ssize_t i = 0; out != NULL && i < t->slots; i++) {
        if (best[i] == INT_MAX) continue;
        PyObject *entry = slot_entry(buf + vstart[i], vsize[i], t->key_str[winner[i]]);
        if (entry == NULL || PyDict_SetItem(out, t->slot_name[i], entry) < 0) Py_CLEAR(out);
        Py_XDECREF(entry);
    }
    return out;
}

/* Calls each(buf[item:end of item]) for every length-delimited field `number` in buf[0:len]. */
typedef int (*ItemFn)(const unsigned char *buf, Py_ssize_t len, void *arg);

static int for_each(const unsigned char *buf, Py_ssize_t len, uint64_t number, ItemFn each, void *arg) {
    Walk w = {buf, len, NULL, NULL, 0, NULL};
    Py_ssize_t pos = 0;
    while (pos < len) {
        uint64_t field;
        Py_ssize_t item;
        int r = next_field(&w, &pos, &field, &item);
        if (r >= 0 && pos > len) r = truncated();
        if (r < 0) return -1;
        if (r == 1 && field == number && each(buf + item, pos - item, arg) < 0) return -1;
    }
    return 0;
}

typedef struct {
    const SlotTable *table;
    PyObject *out;
} SpansArg;

static int each_span(const unsigned char *buf, Py_ssize_t len, void *arg) {
    SpansArg *a = arg;
    PyObject *slots = span_slots(buf, len, a->table);
    if (slots == NULL) return -1;
    int failed = PyList_Append(a->out, slots);
    Py_DECREF(slots);
    return failed;
}

static int each_scope_spans(const unsigned char *buf, Py_ssize_t len, void *arg) {
    return for_each(buf, len, 2, each_span, arg); /* ScopeSpans.spans */
}

static int each_resource_spans(const unsigned char *buf, Py_ssize_t len, void *arg) {
    return for_each(buf, len, 2, each_scope_spans, arg); /* ResourceSpans.scope_spans */
}

PyDoc_STRVAR(genai_attributes_doc,
"genai_attributes(request, table) -> list\n\n"
"For each span of a serialized ExportTraceServiceRequest, in order, the GenAI view's slots read from its\n"
"attributes: {slot: (key, member, value)} or None (genai.view.GenAIView.of is the reference). `table` is\n"
"(keys as bytes, the same keys as str, slot index per key, rank per key, slot names): a slot takes the\n"
"value of its best-ranked key, the first occurrence of it. ValueError if the bytes are not well-formed.");

static PyObject *genai_attributes(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "genai_attributes() takes 2 arguments");
        return NULL;
    }
    SlotTable table;
    if (load_table(args[1], &table) < 0) return NULL;
    Py_buffer view;
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0) return NULL;
    SpansArg arg = {&table, PyList_New(0)};
    if (arg.out != NULL && for_each(view.buf, view.len, 1, each_resource_spans, &arg) < 0) Py_CLEAR(arg.out);
    PyBuffer_Release(&view);
    return arg.out;
}

PyDoc_STRVAR(count_walk_doc,
"count_walk(buf, base, state, ends, groups, masks, oneof) -> int\n\n"
"wire.count.walk in C: walks one chunk of a serialized request on from `state` (updated in place, as `ends`\n"
"and `groups`), counting its items; returns where in `buf` a tag or length starts that `buf` ends in, or -1.");

#define COUNT_MAX_DEPTH 8
#define COUNT_MAX_GROUPS 100 /* wire.count.MAX_GROUPS */
#define COUNT_NO_END ((int64_t)1 << 62)
#define COUNT_INCOMPLETE (-1)
#define COUNT_OVERLONG (-2)

/* A varint at i: 0 with its low 64 bits in *value (*overflow if it had more), or COUNT_INCOMPLETE when buf ends
 * first, COUNT_OVERLONG past 10 bytes. */
static int count_varint(const unsigned char *buf, Py_ssize_t n, Py_ssize_t i, uint64_t *value, int *overflow, Py_ssize_t *next) {
    uint64_t v = 0;
    int over = 0;
    Py_ssize_t stop = n - i > 10 ? i + 10 : n;
    for (Py_ssize_t k = i, shift = 0; k < stop; k++, shift += 7) {
        unsigned char b = buf[k];
        if (shift < 64) {
            v |= (uint64_t)(b & 0x7F) << shift;
            if (shift == 63 && (b & 0x7F) > 1) over = 1;
        } else if (b & 0x7F) {
            over = 1;
        }
        if (b < 0x80) {
            *value = v;
            *overflow = over;
            *next = k + 1;
            return 0;
        }
    }
    return n - i >= 10 ? COUNT_OVERLONG : COUNT_INCOMPLETE;
}

static int int64_items(PyObject *list, int64_t *out, Py_ssize_t most, Py_ssize_t *count) {
    Py_ssize_t len = PyList_GET_SIZE(list);
    if (len > most) {
        PyErr_SetString(PyExc_ValueError, "count_walk: state too deep");
        return -1;
    }
    for (Py_ssize_t k = 0; k < len; k++) {
        out[k] = PyLong_AsLongLong(PyList_GET_ITEM(list, k));
        if (out[k] == -1 && PyErr_Occurred()) return -1;
    }
    *count = len;
    return 0;
}

static int set_items(PyObject *list, const int64_t *values, Py_ssize_t count) {
    PyObject *fresh = PyList_New(count);
    if (fresh == NULL) return -1;
    for (Py_ssize_t k = 0; k < count; k++) {
        PyObject *v = PyLong_FromLongLong(values[k]);
        if (v == NULL) {
            Py_DECREF(fresh);
            return -1;
        }
        PyList_SET_ITEM(fresh, k, v);
    }
    int rc = PyList_SetSlice(list, 0, PyList_GET_SIZE(list), fresh);
    Py_DECREF(fresh);
    return rc;
}

static PyObject *count_walk(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 7) {
        PyErr_SetString(PyExc_TypeError, "count_walk() takes 7 arguments");
        return NULL;
    }
    PyObject *state_list = args[2], *ends_list = args[3], *groups_list = args[4], *masks_tuple = args[5];
    if (!PyList_Check(state_list) || PyList_GET_SIZE(state_list) != 6 || !PyList_Check(ends_list) || !PyList_Check(groups_list) ||
        !PyTuple_Check(masks_tuple) || PyTuple_GET_SIZE(masks_tuple) < 1 || PyTuple_GET_SIZE(masks_tuple) > COUNT_MAX_DEPTH) {
        PyErr_SetString(PyExc_TypeError, "count_walk(buf, base, state, ends, groups, masks, oneof)");
        return NULL;
    }
    int64_t base = PyLong_AsLongLong(args[1]);
    long oneof = PyLong_AsLong(args[6]);
    if (PyErr_Occurred()) return NULL;
    uint64_t masks[COUNT_MAX_DEPTH];
    Py_ssize_t depths = PyTuple_GET_SIZE(masks_tuple);
    for (Py_ssize_t k = 0; k < depths; k++) {
        masks[k] = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(masks_tuple, k));
        if (masks[k] == (uint64_t)-1 && PyErr_Occurred()) return NULL;
    }
    int64_t st[6], ends[COUNT_MAX_DEPTH], groups[COUNT_MAX_GROUPS];
    Py_ssize_t six, nends, ngroups;
    if (int64_items(state_list, st, 6, &six) < 0 || int64_items(ends_list, ends, depths, &nends) < 0 ||
        int64_items(groups_list, groups, COUNT_MAX_GROUPS, &ngroups) < 0)
        return NULL;
    Py_buffer view;
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0) return NULL;
    const unsigned char *buf = view.buf;
    Py_ssize_t n = view.len;
    int64_t top = base + n, pos = st[0], items = st[1], leaf_end = st[2], oneof_field = st[3], oneof_items = st[4];
    int bad = st[5] != 0;
    Py_ssize_t leaf = depths - 1, carry = -1;
    int64_t limit = nends ? ends[nends - 1] : COUNT_NO_END;
    while (pos <= top) {
        if (leaf_end >= 0) {
            leaf_end = -1;
            items++;
            oneof_items++;
        }
        if (pos >= limit) {
            if (ngroups) {
                bad = 1; /* a group left open at its message's end */
                break;
            }
            nends--;
            limit = nends ? ends[nends - 1] : COUNT_NO_END;
            continue;
        }
        if (pos == top) break;
        Py_ssize_t i = (Py_ssize_t)(pos - base), j;
        uint64_t key;
        int over = 0, rc = 0;
        if (buf[i] < 0x80) {
            key = buf[i];
            j = i + 1;
        } else {
            rc = count_varint(buf, n, i, &key, &over, &j);
        }
        if (rc == 0) {
            uint64_t field = over ? UINT64_MAX >> 3 : key >> 3;
            unsigned wire_type = (unsigned)(key & 7);
            if (field == 0) {
                bad = 1;
                break;
            }
            if (wire_type == 2) {
                uint64_t size = 0;
                int size_over = 0;
                if (j >= n) {
                    rc = COUNT_INCOMPLETE;
                } else if (buf[j] < 0x80) {
                    size = buf[j++];
                } else {
                    rc = count_varint(buf, n, j, &size, &size_over, &j);
                }
                if (rc == 0) {
                    int64_t start = base + j;
                    if (size_over || start > limit || size > (uint64_t)(limit - start)) {
                        bad = 1; /* runs past the message it is in */
                        break;
                    }
                    int64_t end = start + (int64_t)size;
                    Py_ssize_t depth = nends;
                    if (ngroups || field >= 64 || !((masks[depth] >> field) & 1)) {
                        pos = end;
                    } else if (depth == leaf) {
                        leaf_end = pos = end;
                    } else {
                        if (depth == oneof) {
                            if ((int64_t)field != oneof_field) {
                                items -= oneof_items; /* protobuf keeps the last field of a oneof */
                                oneof_field = (int64_t)field;
                                oneof_items = 0;
                            }
                        } else if (depth == oneof - 1) {
                            oneof_field = oneof_items = 0; /* a new metric */
                        }
                        ends[nends++] = end;
                        limit = end;
                        pos = start;
                    }
                    continue;
                }
            } else if (wire_type == 0) {
                uint64_t ignored;
                int ignored_over;
                rc = count_varint(buf, n, j, &ignored, &ignored_over, &j);
                if (rc == 0) pos = base + j;
            } else if (wire_type == 1) {
                pos = base + j + 8;
            } else if (wire_type == 5) {
                pos = base + j + 4;
            } else if (wire_type == 3 && ngroups < COUNT_MAX_GROUPS) {
                groups[ngroups++] = (int64_t)(field > INT64_MAX ? INT64_MAX : field);
                pos = base + j;
            } else if (wire_type == 4 && ngroups && !over && groups[ngroups - 1] == (int64_t)field) {
                ngroups--;
                pos = base + j;
            } else {
                bad = 1;
                break;
            }
        }
        if (rc == COUNT_OVERLONG) {
            bad = 1;
            break;
        }
        if (rc == COUNT_INCOMPLETE) {
            carry = i;
            break;
        }
        if (pos > limit) {
            bad = 1; /* a fixed-size field runs past the message it is in */
            break;
        }
    }
    PyBuffer_Release(&view);
    st[0] = pos, st[1] = items, st[2] = leaf_end, st[3] = oneof_field, st[4] = oneof_items, st[5] = bad;
    if (set_items(state_list, st, 6) < 0 || set_items(ends_list, ends, nends) < 0 || set_items(groups_list, groups, ngroups) < 0)
        return NULL;
    return PyLong_FromSsize_t(carry);
}

static PyMethodDef methods[] = {
    {"locate", (PyCFunction)(void (*)(void))locate, METH_FASTCALL, locate_doc},
    {"json_tokens", (PyCFunction)(void (*)(void))json_tokens, METH_FASTCALL, json_tokens_doc},
    {"attribute_values", (PyCFunction)(void (*)(void))attribute_values, METH_FASTCALL, attribute_values_doc},
    {"number_sum", (PyCFunction)(void (*)(void))number_sum, METH_FASTCALL, number_sum_doc},
    {"fnv1a64", (PyCFunction)(void (*)(void))fnv1a64, METH_FASTCALL, fnv1a64_doc},
    {"genai_attributes", (PyCFunction)(void (*)(void))genai_attributes, METH_FASTCALL, genai_attributes_doc},
    {"unknown_fields", (PyCFunction)(void (*)(void))unknown_fields, METH_FASTCALL, unknown_fields_doc},
    {"count_walk", (PyCFunction)(void (*)(void))count_walk, METH_FASTCALL, count_walk_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_walks",
    "Walks over protobuf and JSON bytes, in C: the redaction gate's (wire.locate.locate,\n"
    "wire.json_lexer.json_tokens, unknown fields against wire.schema), "
    "tail_sampling's attribute lookups in held spans, the GenAI view's attributes (genai.view) and the items\n"
    "of a refused request (wire.count).", -1, methods,
};

PyMODINIT_FUNC PyInit__walks(void) { return PyModule_Create(&module); }
