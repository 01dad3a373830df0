/* OTLP-JSON for a serialized ExportTraceServiceRequest, in C, for the file exporter's encoder process.
 *
 * collector/otlpjson/ is the encoder and the reference: this writes the same bytes for the requests the
 * daemon hands its exporters, which upb serialized (every singular field at most once, AnyValue with one
 * member). It walks the wire bytes once and never builds a Python object per field; in Python the encoder
 * spent ~40 µs of the encoder process's CPU per span written in the full LLM pipeline, most of it building
 * attribute dicts. Anything else (a field twice, an unexpected wire type, entity refs, nesting deeper than
 * MAX_DEPTH, invalid UTF-8, truncation) raises ValueError, and json_writer encodes that request in Python.
 * Field order, omitted defaults and string escapes are orjson's output of otlpjson's dicts; doubles are
 * formatted by the callable passed in (orjson.dumps), so they are written exactly as the Python encoder
 * writes them. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define MAX_FIELD 16
#define MAX_DEPTH 64

typedef struct {
    char *data;
    Py_ssize_t len, cap;
    PyObject *format_double;
} Out;

static int damaged(const char *why) {
    PyErr_SetString(PyExc_ValueError, why);
    return -1;
}

static int put(Out *o, const char *s, Py_ssize_t n) {
    if (o->len + n > o->cap) {
        Py_ssize_t cap = o->cap ? o->cap : 4096;
        while (cap < o->len + n) cap *= 2;
        char *grown = PyMem_Realloc(o->data, (size_t)cap);
        if (grown == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        o->data = grown;
        o->cap = cap;
    }
    memcpy(o->data + o->len, s, (size_t)n);
    o->len += n;
    return 0;
}

static int puts_(Out *o, const char *s) { return put(o, s, (Py_ssize_t)strlen(s)); }

/* ---- wire reading ---- */

typedef struct {
    const unsigned char *buf;
    Py_ssize_t len;
} Msg;

static int varint(const Msg *m, Py_ssize_t *pos, uint64_t *value) {
    uint64_t result = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (*pos >= m->len) return damaged("truncated message");
        unsigned char byte = m->buf[(*pos)++];
        if (shift == 63 && byte > 1) break;
        result |= (uint64_t)(byte & 0x7F) << shift;
        if (byte < 0x80) {
            *value = result;
            return 0;
        }
    }
    return damaged("varint too long");
}

/* One field: its number, wire type, and either its scalar (varint, fixed) or its bytes' extent. */
typedef struct {
    uint64_t number;
    unsigned wire;
    uint64_t scalar;
    Py_ssize_t start, size;
} Field;

static int next(const Msg *m, Py_ssize_t *pos, Field *f) {
    uint64_t tag;
    if (varint(m, pos, &tag) < 0) return -1;
    f->number = tag >> 3;
    f->wire = (unsigned)(tag & 7);
    switch (f->wire) {
    case 0: return varint(m, pos, &f->scalar);
    case 1:
    case 5: {
        int n = f->wire == 1 ? 8 : 4;
        if (m->len - *pos < n) return damaged("truncated message");
        uint64_t v = 0;
        for (int i = n - 1; i >= 0; i--) v = (v << 8) | m->buf[*pos + i];
        f->scalar = v;
        *pos += n;
        return 0;
    }
    case 2: {
        uint64_t size;
        if (varint(m, pos, &size) < 0) return -1;
        if (size > (uint64_t)(m->len - *pos)) return damaged("truncated message");
        f->start = *pos;
        f->size = (Py_ssize_t)size;
        *pos += (Py_ssize_t)size;
        return 0;
    }
    default: return damaged("unexpected wire type");
    }
}

/* ---- JSON pieces ---- */

static int put_string(Out *o, const unsigned char *s, Py_ssize_t n) {
    static const char hex[] = "0123456789abcdef";
    for (Py_ssize_t i = 0; i < n; i++) {
        if (s[i] >= 0x80) { /* upb refuses invalid UTF-8 in strings; so does this */
            PyObject *checked = PyUnicode_DecodeUTF8((const char *)s, n, NULL);
            if (checked == NULL) return -1;
            Py_DECREF(checked);
            break;
        }
    }
    if (put(o, "\"", 1) < 0) return -1;
    Py_ssize_t run = 0; /* bytes copied as they are, flushed before each escape */
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        char esc[7];
        int size = 0;
        if (c == '"' || c == '\\') {
            esc[0] = '\\', esc[1] = (char)c, size = 2;
        } else if (c < 0x20) {
            const char *named = c == '\b' ? "\\b" : c == '\t' ? "\\t" : c == '\n' ? "\\n" : c == '\f' ? "\\f" : c == '\r' ? "\\r" : NULL;
            if (named) {
                memcpy(esc, named, 2), size = 2;
            } else {
                memcpy(esc, "\\u00", 4), esc[4] = hex[c >> 4], esc[5] = hex[c & 15], size = 6;
            }
        } else {
            continue;
        }
        if (put(o, (const char *)s + run, i - run) < 0 || put(o, esc, size) < 0) return -1;
        run = i + 1;
    }
    if (put(o, (const char *)s + run, n - run) < 0) return -1;
    return put(o, "\"", 1);
}

static int put_hex(Out *o, const unsigned char *s, Py_ssize_t n) {
    static const char hex[] = "0123456789abcdef";
    if (put(o, "\"", 1) < 0) return -1;
    for (Py_ssize_t i = 0; i < n; i++) {
        char pair[2] = {hex[s[i] >> 4], hex[s[i] & 15]};
        if (put(o, pair, 2) < 0) return -1;
    }
    return put(o, "\"", 1);
}

static int put_base64(Out *o, const unsigned char *s, Py_ssize_t n) {
    static const char table[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (put(o, "\"", 1) < 0) return -1;
    for (Py_ssize_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16;
        if (i + 1 < n) v |= (uint32_t)s[i + 1] << 8;
        if (i + 2 < n) v |= s[i + 2];
        char quad[4] = {table[(v >> 18) & 63], table[(v >> 12) & 63], i + 1 < n ? table[(v >> 6) & 63] : '=', i + 2 < n ? table[v & 63] : '='};
        if (put(o, quad, 4) < 0) return -1;
    }
    return put(o, "\"", 1);
}

/* `format` holds one %lld; every caller's fits in 64 bytes with the longest long long. */
static int put_format(Out *o, const char *format, long long value) {
    char text[64];
    int n = snprintf(text, sizeof text, format, value);
    if (n < 0 || n >= (int)sizeof text) return damaged("formatted number too long");
    return put(o, text, n);
}

static int put_double(Out *o, double x) {
    if (isnan(x)) return puts_(o, "\"NaN\"");
    if (isinf(x)) return puts_(o, x > 0 ? "\"Infinity\"" : "\"-Infinity\"");
    PyObject *number = PyFloat_FromDouble(x);
    if (number == NULL) return -1;
    PyObject *text = PyObject_CallOneArg(o->format_double, number);
    Py_DECREF(number);
    if (text == NULL) return -1;
    int failed = PyBytes_Check(text) ? put(o, PyBytes_AS_STRING(text), PyBytes_GET_SIZE(text)) : damaged("format_double must return bytes");
    Py_DECREF(text);
    return failed;
}

/* ---- messages, as tables in otlpjson's output order ---- */

enum Kind {
    HEX,       /* bytes -> lowercase hex */
    STRING,
    NANOS,     /* fixed64 -> decimal string */
    FIXED32,   /* -> number */
    UINT32,    /* varint -> number */
    ENUM,      /* varint int32 -> number */
    MESSAGE,   /* -> object, written when present even if empty */
    MESSAGES,  /* repeated -> array */
    ATTRIBUTES,/* repeated KeyValue -> array */
    REFUSED,   /* not written here: its presence sends the request to the Python encoder */
};

static const unsigned WIRE[] = {[HEX] = 2, [STRING] = 2, [NANOS] = 1, [FIXED32] = 5, [UINT32] = 0, [ENUM] = 0,
                                [MESSAGE] = 2, [MESSAGES] = 2, [ATTRIBUTES] = 2, [REFUSED] = 2};

struct Type;
typedef struct {
    int number;
    const char *name;
    enum Kind kind;
    const struct Type *type;
} Member;

typedef struct Type {
    int count;
    Member members[MAX_FIELD];
} Type;

static const Type STATUS = {2, {{2, "message", STRING, NULL}, {3, "code", ENUM, NULL}}};
static const Type EVENT = {4, {{1, "timeUnixNano", NANOS, NULL}, {2, "name", STRING, NULL}, {3, "attributes", ATTRIBUTES, NULL},
                              {4, "droppedAttributesCount", UINT32, NULL}}};
static const Type LINK = {6, {{1, "traceId", HEX, NULL}, {2, "spanId", HEX, NULL}, {3, "traceState", STRING, NULL},
                             {4, "attributes", ATTRIBUTES, NULL}, {5, "droppedAttributesCount", UINT32, NULL}, {6, "flags", FIXED32, NULL}}};
static const Type SPAN = {16, {{1, "traceId", HEX, NULL}, {2, "spanId", HEX, NULL}, {3, "traceState", STRING, NULL},
                              {4, "parentSpanId", HEX, NULL}, {16, "flags", FIXED32, NULL}, {5, "name", STRING, NULL},
                              {6, "kind", ENUM, NULL}, {7, "startTimeUnixNano", NANOS, NULL}, {8, "endTimeUnixNano", NANOS, NULL},
                              {9, "attributes", ATTRIBUTES, NULL}, {10, "droppedAttributesCount", UINT32, NULL},
                              {11, "events", MESSAGES, &EVENT}, {12, "droppedEventsCount", UINT32, NULL},
                              {13, "links", MESSAGES, &LINK}, {14, "droppedLinksCount", UINT32, NULL}, {15, "status", MESSAGE, &STATUS}}};
static const Type SCOPE = {4, {{1, "name", STRING, NULL}, {2, "version", STRING, NULL}, {3, "attributes", ATTRIBUTES, NULL},
                              {4, "droppedAttributesCount", UINT32, NULL}}};
static const Type RESOURCE = {3, {{1, "attributes", ATTRIBUTES, NULL}, {2, "droppedAttributesCount", UINT32, NULL},
                                 {3, "entityRefs", REFUSED, NULL}}};
static const Type SCOPE_SPANS = {3, {{1, "scope", MESSAGE, &SCOPE}, {2, "spans", MESSAGES, &SPAN}, {3, "schemaUrl", STRING, NULL}}};
static const Type RESOURCE_SPANS = {3, {{1, "resource", MESSAGE, &RESOURCE}, {2, "scopeSpans", MESSAGES, &SCOPE_SPANS},
                                       {3, "schemaUrl", STRING, NULL}}};
static const Type REQUEST = {1, {{1, "resourceSpans", MESSAGES, &RESOURCE_SPANS}}};

static int put_message(Out *o, Msg m, const Type *type, int depth);

static int put_any(Out *o, Msg m, int depth);

/* Writes one item of a repeated field: a message of `type`, or a KeyValue or AnyValue (type unused). */
typedef int (*ItemFn)(Out *o, Msg m, const Type *type, int depth);

/* A KeyValue: {"key", "value", "keyStrindex"}, each only when set, as otlpjson._kv writes it. */
static int put_key_value(Out *o, Msg m, int depth) {
    Field f, key = {0}, value = {0}, strindex = {0};
    int keys = 0, values = 0, strindexes = 0;
    Py_ssize_t pos = 0;
    while (pos < m.len) {
        if (next(&m, &pos, &f) < 0) return -1;
        if (f.number == 1 && f.wire == 2) key = f, keys++;
        else if (f.number == 2 && f.wire == 2) value = f, values++;
        else if (f.number == 3 && f.wire == 0) strindex = f, strindexes++;
        else if (f.number >= 1 && f.number <= 3) return damaged("a KeyValue field with an unexpected wire type");
    }
    if (keys > 1 || values > 1 || strindexes > 1) return damaged("a KeyValue field twice");
    const char *sep = "{";
    if (keys && key.size) {
        if (puts_(o, "{\"key\":") < 0 || put_string(o, m.buf + key.start, key.size) < 0) return -1;
        sep = ",";
    }
    if (values) {
        if (puts_(o, sep) < 0 || puts_(o, "\"value\":") < 0) return -1;
        if (put_any(o, (Msg){m.buf + value.start, value.size}, depth + 1) < 0) return -1;
        sep = ",";
    }
    if (strindexes && (int32_t)strindex.scalar) {
        if (puts_(o, sep) < 0 || put_format(o, "\"keyStrindex\":%lld", (int32_t)strindex.scalar) < 0) return -1;
        sep = ",";
    }
    return puts_(o, *sep == '{' ? "{}" : "}");
}

static int put_list(Out *o, Msg m, int number, ItemFn each, const Type *type, int depth) {
    Field f;
    Py_ssize_t pos = 0;
    const char *sep = "[";
    while (pos < m.len) {
        if (next(&m, &pos, &f) < 0) return -1;
        if (f.number != (uint64_t)number) continue;
        if (f.wire != 2) return damaged("a repeated message with an unexpected wire type");
        if (puts_(o, sep) < 0 || each(o, (Msg){m.buf + f.start, f.size}, type, depth + 1) < 0) return -1;
        sep = ",";
    }
    return puts_(o, *sep == '[' ? "[]" : "]");
}

static int put_key_value_item(Out *o, Msg m, const Type *type, int depth) { return put_key_value(o, m, depth); }

static int put_any_item(Out *o, Msg m, const Type *type, int depth) { return put_any(o, m, depth); }

static int put_message_item(Out *o, Msg m, const Type *type, int depth) { return put_message(o, m, type, depth); }

/* An AnyValue: {"<member>": value}, {} for none, as otlpjson._any writes it. */
static int put_any(Out *o, Msg m, int depth) {
    if (depth > MAX_DEPTH) return damaged("nested too deeply");
    static const unsigned wire[9] = {0, 2, 0, 0, 1, 2, 2, 2, 0};
    Field f, member = {0};
    int members = 0;
    Py_ssize_t pos = 0;
    while (pos < m.len) {
        if (next(&m, &pos, &f) < 0) return -1;
        if (f.number < 1 || f.number > 8) continue;
        if (f.wire != wire[f.number]) return damaged("an AnyValue member with an unexpected wire type");
        member = f, members++;
    }
    if (members > 1) return damaged("an AnyValue with several members");
    if (!members) return puts_(o, "{}");
    Msg inner = {m.buf + member.start, member.size};
    switch (member.number) {
    case 1: return puts_(o, "{\"stringValue\":") < 0 || put_string(o, inner.buf, inner.len) < 0 ? -1 : puts_(o, "}");
    case 2: return puts_(o, member.scalar ? "{\"boolValue\":true}" : "{\"boolValue\":false}");
    case 3: return put_format(o, "{\"intValue\":\"%lld\"}", (long long)(int64_t)member.scalar);
    case 4: {
        double x;
        memcpy(&x, &member.scalar, sizeof x);
        return puts_(o, "{\"doubleValue\":") < 0 || put_double(o, x) < 0 ? -1 : puts_(o, "}");
    }
    case 5:
    case 6: {
        /* {"values": [...]} when there are values, else {} */
        Field g;
        Py_ssize_t p = 0;
        int any = 0;
        while (p < inner.len) {
            if (next(&inner, &p, &g) < 0) return -1;
            if (g.number == 1) any = 1;
        }
        if (puts_(o, member.number == 5 ? "{\"arrayValue\":" : "{\"kvlistValue\":") < 0) return -1;
        if (!any) return puts_(o, "{}}");
        if (puts_(o, "{\"values\":") < 0) return -1;
        if (put_list(o, inner, 1, member.number == 5 ? put_any_item : put_key_value_item, NULL, depth) < 0) return -1;
        return puts_(o, "}}");
    }
    case 7: return puts_(o, "{\"bytesValue\":") < 0 || put_base64(o, inner.buf, inner.len) < 0 ? -1 : puts_(o, "}");
    default: return put_format(o, "{\"stringValueStrindex\":%lld}", (int32_t)member.scalar);
    }
}

/* A message by its table: singular fields are found first (each at most once), then every member is
 * written in the table's order, repeated ones by walking the message again. */
static int put_message(Out *o, Msg m, const Type *type, int depth) {
    if (depth > MAX_DEPTH) return damaged("nested too deeply");
    Field seen[MAX_FIELD + 1];
    int counts[MAX_FIELD + 1] = {0};
    Field f;
    Py_ssize_t pos = 0;
    while (pos < m.len) {
        if (next(&m, &pos, &f) < 0) return -1;
        if (f.number < 1 || f.number > MAX_FIELD) continue;
        for (int i = 0; i < type->count; i++) {
            const Member *member = &type->members[i];
            if ((uint64_t)member->number != f.number) continue;
            if (f.wire != WIRE[member->kind]) return damaged("a field with an unexpected wire type");
            if (member->kind == REFUSED) return damaged("a field left to the Python encoder");
            seen[f.number] = f;
            counts[f.number]++;
            if (counts[f.number] > 1 && member->kind != MESSAGES && member->kind != ATTRIBUTES) return damaged("a singular field twice");
            break;
        }
    }
    const char *sep = "{";
    for (int i = 0; i < type->count; i++) {
        const Member *member = &type->members[i];
        if (!counts[member->number]) continue;
        const Field *v = &seen[member->number];
        Msg inner = {m.buf + v->start, v->size};
        int empty = 0;
        switch (member->kind) {
        case HEX:
        case STRING: empty = v->size == 0; break;
        case NANOS: empty = v->scalar == 0; break;
        case FIXED32:
        case UINT32: empty = (uint32_t)v->scalar == 0; break;
        case ENUM: empty = (int32_t)v->scalar == 0; break;
        default: break;
        }
        if (empty) continue;
        if (puts_(o, sep) < 0 || put(o, "\"", 1) < 0 || puts_(o, member->name) < 0 || put(o, "\":", 2) < 0) return -1;
        sep = ",";
        int r;
        switch (member->kind) {
        case HEX: r = put_hex(o, inner.buf, inner.len); break;
        case STRING: r = put_string(o, inner.buf, inner.len); break;
        case NANOS: {
            char text[32];
            r = put(o, text, snprintf(text, sizeof text, "\"%llu\"", (unsigned long long)v->scalar));
            break;
        }
        case FIXED32:
        case UINT32: r = put_format(o, "%lld", (long long)(uint32_t)v->scalar); break;
        case ENUM: r = put_format(o, "%lld", (long long)(int32_t)v->scalar); break;
        case MESSAGE: r = put_message(o, inner, member->type, depth + 1); break;
        case ATTRIBUTES: r = put_list(o, m, member->number, put_key_value_item, NULL, depth); break;
        case MESSAGES: r = put_list(o, m, member->number, put_message_item, member->type, depth); break;
        default: r = damaged("a field left to the Python encoder"); break;
        }
        if (r < 0) return -1;
    }
    return puts_(o, *sep == '{' ? "{}" : "}");
}

PyDoc_STRVAR(traces_doc,
"traces(request, format_double) -> bytes\n\n"
"Compact OTLP-JSON of a serialized ExportTraceServiceRequest, the bytes otlpjson.encode_traces writes for it.\n"
"`format_double(float) -> bytes` writes finite doubles (orjson.dumps). ValueError for anything but the\n"
"one-occurrence-per-field bytes upb serializes (see the module's comment): encode those in Python.");

static PyObject *traces(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "traces() takes 2 arguments");
        return NULL;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0) return NULL;
    Out o = {NULL, 0, 0, args[1]};
    int r = put_message(&o, (Msg){view.buf, view.len}, &REQUEST, 0);
    PyBuffer_Release(&view);
    PyObject *out = r < 0 ? NULL : PyBytes_FromStringAndSize(o.data, o.len);
    PyMem_Free(o.data);
    return out;
}

static PyMethodDef methods[] = {
    {"traces", (PyCFunction)(void (*)(void))traces, METH_FASTCALL, traces_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_otlp_json",
    "OTLP-JSON of serialized trace requests in C, for the file exporter's encoder process (otlpjson is the reference).",
    -1, methods,
};

PyMODINIT_FUNC PyInit__otlp_json(void) { return PyModule_Create(&module); }
