/* The built-in PII detectors' exact pass, in C: their patterns, acceptors and checksum validators over one
 * value, as collector/pii/scanner.py runs them in Python (`Scanner._exact`, `rules`); the Python code stays
 * the reference, and tests/pii/test_pii_native.py holds the two to the same findings.
 *
 * The patterns are not re-written by hand: collector/pii/compiled.py hands over the very patterns of
 * collector/pii/detectors.py as Python's own parser reads them (sets, repeats, groups, alternations,
 * look-arounds), and `match` below is a backtracking matcher with the semantics of Python's `re` for those
 * constructs: leftmost match, greedy or lazy repeats tried in sre's order, alternatives in order, fixed-width
 * look-behinds that may read before the scanned range, `\w`/`\d`/`\s` as `str.isalnum() or "_"`,
 * `str.isdecimal()` and `str.isspace()` outside ASCII mode. Where the matcher runs past a step or depth
 * budget (a pathological value), `scan` answers None and the caller runs the Python pass on that value.
 *
 * One pass over the value tries, at each character, only the patterns whose first character can be it
 * (a table over ASCII); the e-mail pattern is tried once per "@", from the start of the run of local-part
 * characters before it, as `rules._email_matches` does. Each detector's branches are merged the way
 * `rules._builtin_finder` merges them (leftmost first, the earlier branch on a tie), then the reported group
 * is cut out and the detector's acceptor runs (detectors._accept_card, _accept_phone..., the validators).
 *
 * `rewrite` is the redaction processor's rewrite of a value with findings where every rule masks
 * (collector/processors/redaction/edits.py, `Edits._rewrite`, is the reference).
 *
 * Python imports this module only through collector/wire/native.py. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#include <structmember.h>

enum { N_SET = 0, N_REPEAT = 1, N_GROUP = 2, N_BRANCH = 3, N_ASSERT = 4 };
enum { CAT_WORD = 1, CAT_NOT_WORD = 2, CAT_DIGIT = 4, CAT_NOT_DIGIT = 8, CAT_SPACE = 16, CAT_NOT_SPACE = 32 };
enum { ACC_NONE = 0, ACC_CARD, ACC_PHONE, ACC_CPF, ACC_CNPJ, ACC_SSN, ACC_IBAN, ACC_IPV4, ACC_BEARER };

#define MAX_GROUPS 4
#define MAX_DEPTH 4000
#define MAX_BRANCHES 64
#define RELEASE_GIL 4096 /* a value this long is matched without the GIL (other threads run meanwhile) */

typedef struct Node {
    int op;
    struct Node *next; /* the next node of its sequence; NULL at the end */
    /* N_SET */
    uint32_t ascii[4]; /* the whole set's answer for each character below 128 */
    int negate, cats;
    Py_ssize_t nranges;
    Py_UCS4 *ranges; /* lo, hi pairs */
    /* N_REPEAT */
    Py_ssize_t min, max; /* max -1: unbounded */
    int greedy, single; /* single: the body is one set */
    struct Node *body; /* N_REPEAT, N_GROUP, N_ASSERT */
    /* N_GROUP */
    int group;
    /* N_BRANCH */
    Py_ssize_t nalts;
    struct Node **alts;
    /* N_ASSERT */
    int dir, neg;
    Py_ssize_t width;
    int simple; /* the body is sets and simple look-arounds only: no choice to backtrack into */
} Node;

typedef struct {
    Node *seq;
    Node **first; /* sets one of which the first character is in; NULL: any character */
    Py_ssize_t nfirst;
    Node **second; /* the same for the second character, where the first is one set; NULL: no such sets */
    Py_ssize_t nsecond;
    int group; /* the group whose span is reported, -1: the whole match */
    int any_wide; /* the first character may be outside ASCII */
} Branch;

typedef struct {
    PyObject *k; /* the scanner's rule index, returned with each span */
    PyObject *name; /* the detector's name, a finding's `detector` */
    long priority; /* k as a number: a lower one wins an overlap */
    Py_ssize_t min_len;
    int accept, email;
    Py_ssize_t nbranches;
    Branch *branches;
    int first_branch; /* index of its first branch in the program's flat list */
} Rule;

typedef struct {
    Py_ssize_t nrules, nbranches;
    Rule *rules;
    Branch **flat; /* every branch, in rule order */
    int *owner; /* flat branch -> rule index */
    uint64_t table[128]; /* ASCII character -> the flat branches it can start */
    uint64_t rejected[128]; /* ASCII character -> the flat branches that cannot start right after it */
    uint64_t wide; /* the flat branches a character outside ASCII can start */
    uint64_t email; /* the flat branches tried per "@" instead */
    int iban[26 * 26], iban_max;
    PyTypeObject *finding; /* collector.pii.rules.Finding, and where its slots are */
    Py_ssize_t offsets[4];
    void **allocations;
    Py_ssize_t nallocations, capacity;
} Program;

/* ------------------------------------------------------------------------------------------ building */

static void *program_alloc(Program *p, size_t size) {
    if (p->nallocations == p->capacity) {
        Py_ssize_t capacity = p->capacity ? p->capacity * 2 : 64;
        void **grown = PyMem_Realloc(p->allocations, capacity * sizeof(void *));
        if (grown == NULL) {
            PyErr_NoMemory();
            return NULL;
        }
        p->allocations = grown;
        p->capacity = capacity;
    }
    void *block = PyMem_Calloc(1, size ? size : 1);
    if (block == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    p->allocations[p->nallocations++] = block;
    return block;
}

static void program_free(Program *p) {
    if (p == NULL)
        return;
    for (Py_ssize_t i = 0; i < p->nrules; i++) {
        Py_XDECREF(p->rules[i].k);
        Py_XDECREF(p->rules[i].name);
    }
    Py_XDECREF(p->finding);
    for (Py_ssize_t i = 0; i < p->nallocations; i++)
        PyMem_Free(p->allocations[i]);
    PyMem_Free(p->allocations);
    PyMem_Free(p);
}

static inline int is_word(Py_UCS4 c) { return c == '_' || Py_UNICODE_ISALNUM(c); }

static int set_wide(const Node *n, Py_UCS4 c) {
    int in = 0;
    for (Py_ssize_t i = 0; i < n->nranges && !in; i++)
        in = n->ranges[2 * i] <= c && c <= n->ranges[2 * i + 1];
    if (!in && n->cats) {
        int cats = n->cats;
        if (((cats & CAT_WORD) && is_word(c)) || ((cats & CAT_NOT_WORD) && !is_word(c)) ||
            ((cats & CAT_DIGIT) && Py_UNICODE_ISDECIMAL(c)) || ((cats & CAT_NOT_DIGIT) && !Py_UNICODE_ISDECIMAL(c)) ||
            ((cats & CAT_SPACE) && Py_UNICODE_ISSPACE(c)) || ((cats & CAT_NOT_SPACE) && !Py_UNICODE_ISSPACE(c)))
            in = 1;
    }
    return in != n->negate;
}

static inline int in_set(const Node *n, Py_UCS4 c) {
    if (c < 128)
        return (n->ascii[c >> 5] >> (c & 31)) & 1;
    return set_wide(n, c);
}

/* Whether a set can hold a character outside ASCII. */
static int set_is_wide(const Node *n) {
    if (n->negate || (n->cats & (CAT_NOT_WORD | CAT_NOT_DIGIT | CAT_NOT_SPACE | CAT_WORD | CAT_DIGIT | CAT_SPACE)))
        return 1;
    for (Py_ssize_t i = 0; i < n->nranges; i++)
        if (n->ranges[2 * i + 1] >= 128)
            return 1;
    return 0;
}

static Node *build_seq(Program *p, PyObject *seq);

static Py_ssize_t item_ssize(PyObject *t, Py_ssize_t i) { return PyLong_AsSsize_t(PyTuple_GET_ITEM(t, i)); }

static Node *build_node(Program *p, PyObject *t) {
    if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) < 2) {
        PyErr_SetString(PyExc_ValueError, "bad node");
        return NULL;
    }
    Node *n = program_alloc(p, sizeof(Node));
    if (n == NULL)
        return NULL;
    n->op = (int)item_ssize(t, 0);
    switch (n->op) {
    case N_SET: {
        /* (0, negate, (lo, hi, ...), cats) */
        if (PyTuple_GET_SIZE(t) != 4)
            goto bad;
        n->negate = PyObject_IsTrue(PyTuple_GET_ITEM(t, 1));
        PyObject *ranges = PyTuple_GET_ITEM(t, 2);
        if (!PyTuple_Check(ranges) || PyTuple_GET_SIZE(ranges) % 2)
            goto bad;
        n->nranges = PyTuple_GET_SIZE(ranges) / 2;
        n->ranges = program_alloc(p, sizeof(Py_UCS4) * 2 * (size_t)n->nranges);
        if (n->ranges == NULL)
            return NULL;
        for (Py_ssize_t i = 0; i < 2 * n->nranges; i++)
            n->ranges[i] = (Py_UCS4)item_ssize(ranges, i);
        n->cats = (int)item_ssize(t, 3);
        for (Py_UCS4 c = 0; c < 128; c++)
            if (set_wide(n, c))
                n->ascii[c >> 5] |= 1u << (c & 31);
        break;
    }
    case N_REPEAT:
        /* (1, min, max, greedy, seq) */
        if (PyTuple_GET_SIZE(t) != 5)
            goto bad;
        n->min = item_ssize(t, 1);
        n->max = item_ssize(t, 2);
        n->greedy = PyObject_IsTrue(PyTuple_GET_ITEM(t, 3));
        n->body = build_seq(p, PyTuple_GET_ITEM(t, 4));
        if (n->body == NULL)
            return NULL;
        n->single = n->body->op == N_SET && n->body->next == NULL;
        break;
    case N_GROUP:
        /* (2, group, seq) */
        if (PyTuple_GET_SIZE(t) != 3)
            goto bad;
        n->group = (int)item_ssize(t, 1);
        if (n->group < 0 || n->group >= MAX_GROUPS)
            goto bad;
        n->body = build_seq(p, PyTuple_GET_ITEM(t, 2));
        if (n->body == NULL)
            return NULL;
        break;
    case N_BRANCH: {
        /* (3, (seq, seq, ...)) */
        PyObject *alts = PyTuple_GET_ITEM(t, 1);
        if (!PyTuple_Check(alts) || PyTuple_GET_SIZE(alts) == 0)
            goto bad;
        n->nalts = PyTuple_GET_SIZE(alts);
        n->alts = program_alloc(p, sizeof(Node *) * (size_t)n->nalts);
        if (n->alts == NULL)
            return NULL;
        for (Py_ssize_t i = 0; i < n->nalts; i++)
            if ((n->alts[i] = build_seq(p, PyTuple_GET_ITEM(alts, i))) == NULL)
                return NULL;
        break;
    }
    case N_ASSERT:
        /* (4, direction, negate, width, seq) */
        if (PyTuple_GET_SIZE(t) != 5)
            goto bad;
        n->dir = (int)item_ssize(t, 1);
        n->neg = PyObject_IsTrue(PyTuple_GET_ITEM(t, 2));
        n->width = item_ssize(t, 3);
        n->body = build_seq(p, PyTuple_GET_ITEM(t, 4));
        if (n->body == NULL)
            return NULL;
        n->simple = 1;
        for (const Node *b = n->body; b != NULL; b = b->next)
            if (!(b->op == N_SET || (b->op == N_ASSERT && b->simple)))
                n->simple = 0;
        break;
    default:
        goto bad;
    }
    if (PyErr_Occurred())
        return NULL;
    return n;
bad:
    PyErr_SetString(PyExc_ValueError, "bad node");
    return NULL;
}

/* A sequence of nodes; an empty one is refused (collector/pii/compiled.py never builds one). */
static Node *build_seq(Program *p, PyObject *seq) {
    if (!PyTuple_Check(seq) || PyTuple_GET_SIZE(seq) == 0) {
        PyErr_SetString(PyExc_ValueError, "bad sequence");
        return NULL;
    }
    Node *head = NULL, *last = NULL;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(seq); i++) {
        Node *n = build_node(p, PyTuple_GET_ITEM(seq, i));
        if (n == NULL)
            return NULL;
        if (last == NULL)
            head = n;
        else
            last->next = n;
        last = n;
    }
    return head;
}

static void capsule_free(PyObject *capsule) { program_free(PyCapsule_GetPointer(capsule, "collector.wire._pii.Program")); }

static PyObject *py_compile(PyObject *self, PyObject *args) {
    PyObject *rules, *iban, *finding;
    if (!PyArg_ParseTuple(args, "O!O!O!", &PyTuple_Type, &rules, &PyDict_Type, &iban, &PyType_Type, &finding))
        return NULL;
    Program *p = PyMem_Calloc(1, sizeof(Program));
    if (p == NULL)
        return PyErr_NoMemory();
    p->finding = (PyTypeObject *)Py_NewRef(finding);
    static const char *slots[4] = {"start", "end", "detector", "error"};
    for (int i = 0; i < 4; i++) {
        PyObject *d = PyObject_GetAttrString(finding, slots[i]);
        if (d == NULL)
            goto fail;
        int ok = Py_IS_TYPE(d, &PyMemberDescr_Type) && ((PyMemberDescrObject *)d)->d_member->type == T_OBJECT_EX;
        if (ok)
            p->offsets[i] = ((PyMemberDescrObject *)d)->d_member->offset;
        Py_DECREF(d);
        if (!ok) {
            PyErr_SetString(PyExc_TypeError, "Finding must be a slots class with start, end, detector, error");
            goto fail;
        }
    }
    p->nrules = PyTuple_GET_SIZE(rules);
    p->rules = program_alloc(p, sizeof(Rule) * (size_t)p->nrules);
    if (p->rules == NULL)
        goto fail;
    Py_ssize_t total = 0;
    for (Py_ssize_t r = 0; r < p->nrules; r++) {
        /* (k, name, min_len, accept, email, ((seq, first, group, rejected before, second), ...)) */
        PyObject *t = PyTuple_GET_ITEM(rules, r);
        if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) != 6 || !PyTuple_Check(PyTuple_GET_ITEM(t, 5)) ||
            !PyUnicode_Check(PyTuple_GET_ITEM(t, 1))) {
            PyErr_SetString(PyExc_ValueError, "bad rule");
            goto fail;
        }
        Rule *rule = &p->rules[r];
        rule->k = Py_NewRef(PyTuple_GET_ITEM(t, 0));
        rule->priority = PyLong_AsLong(rule->k);
        rule->name = Py_NewRef(PyTuple_GET_ITEM(t, 1));
        rule->min_len = item_ssize(t, 2);
        rule->accept = (int)item_ssize(t, 3);
        rule->email = PyObject_IsTrue(PyTuple_GET_ITEM(t, 4));
        PyObject *branches = PyTuple_GET_ITEM(t, 5);
        rule->nbranches = PyTuple_GET_SIZE(branches);
        rule->first_branch = (int)total;
        total += rule->nbranches;
        if (total > MAX_BRANCHES) {
            PyErr_SetString(PyExc_ValueError, "too many branches");
            goto fail;
        }
        rule->branches = program_alloc(p, sizeof(Branch) * (size_t)rule->nbranches);
        if (rule->branches == NULL)
            goto fail;
        for (Py_ssize_t b = 0; b < rule->nbranches; b++) {
            PyObject *bt = PyTuple_GET_ITEM(branches, b);
            if (!PyTuple_Check(bt) || PyTuple_GET_SIZE(bt) != 5 || !PyTuple_Check(PyTuple_GET_ITEM(bt, 3))) {
                PyErr_SetString(PyExc_ValueError, "bad branch");
                goto fail;
            }
            Branch *br = &rule->branches[b];
            if ((br->seq = build_seq(p, PyTuple_GET_ITEM(bt, 0))) == NULL)
                goto fail;
            PyObject *first = PyTuple_GET_ITEM(bt, 1);
            if (first != Py_None) {
                if (!PyTuple_Check(first)) {
                    PyErr_SetString(PyExc_ValueError, "bad first sets");
                    goto fail;
                }
                br->nfirst = PyTuple_GET_SIZE(first);
                br->first = program_alloc(p, sizeof(Node *) * (size_t)br->nfirst);
                if (br->first == NULL)
                    goto fail;
                for (Py_ssize_t i = 0; i < br->nfirst; i++) {
                    if ((br->first[i] = build_node(p, PyTuple_GET_ITEM(first, i))) == NULL)
                        goto fail;
                    if (br->first[i]->op != N_SET) {
                        PyErr_SetString(PyExc_ValueError, "bad first set");
                        goto fail;
                    }
                    br->any_wide |= set_is_wide(br->first[i]);
                }
            }
            PyObject *second = PyTuple_GET_ITEM(bt, 4);
            if (second != Py_None) {
                if (!PyTuple_Check(second)) {
                    PyErr_SetString(PyExc_ValueError, "bad second sets");
                    goto fail;
                }
                br->nsecond = PyTuple_GET_SIZE(second);
                br->second = program_alloc(p, sizeof(Node *) * (size_t)br->nsecond);
                if (br->second == NULL)
                    goto fail;
                for (Py_ssize_t i = 0; i < br->nsecond; i++)
                    if ((br->second[i] = build_node(p, PyTuple_GET_ITEM(second, i))) == NULL || br->second[i]->op != N_SET) {
                        if (!PyErr_Occurred())
                            PyErr_SetString(PyExc_ValueError, "bad second set");
                        goto fail;
                    }
            }
            br->group = (int)item_ssize(bt, 2);
            PyObject *before = PyTuple_GET_ITEM(bt, 3);
            for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(before); i++) {
                Py_ssize_t c = item_ssize(before, i);
                if (c < 0 || c >= 128) {
                    PyErr_SetString(PyExc_ValueError, "bad character before");
                    goto fail;
                }
                p->rejected[c] |= (uint64_t)1 << (rule->first_branch + b);
            }
            if (br->group >= MAX_GROUPS) {
                PyErr_SetString(PyExc_ValueError, "bad group");
                goto fail;
            }
        }
    }
    p->nbranches = total;
    p->flat = program_alloc(p, sizeof(Branch *) * (size_t)(total ? total : 1));
    p->owner = program_alloc(p, sizeof(int) * (size_t)(total ? total : 1));
    if (p->flat == NULL || p->owner == NULL)
        goto fail;
    for (Py_ssize_t r = 0; r < p->nrules; r++) {
        Rule *rule = &p->rules[r];
        for (Py_ssize_t b = 0; b < rule->nbranches; b++) {
            int f = rule->first_branch + (int)b;
            Branch *br = &rule->branches[b];
            p->flat[f] = br;
            p->owner[f] = (int)r;
            uint64_t bit = (uint64_t)1 << f;
            if (rule->email) {
                p->email |= bit;
                continue;
            }
            if (br->first == NULL || br->any_wide)
                p->wide |= bit;
            for (Py_UCS4 c = 0; c < 128; c++) {
                int ok = br->first == NULL;
                for (Py_ssize_t i = 0; i < br->nfirst && !ok; i++)
                    ok = in_set(br->first[i], c);
                if (ok)
                    p->table[c] |= bit;
            }
        }
    }
    for (int i = 0; i < 26 * 26; i++)
        p->iban[i] = 0;
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(iban, &pos, &key, &value)) {
        if (!PyUnicode_Check(key) || PyUnicode_GET_LENGTH(key) != 2)
            continue;
        Py_UCS4 a = PyUnicode_READ_CHAR(key, 0), b = PyUnicode_READ_CHAR(key, 1);
        if (a < 'A' || a > 'Z' || b < 'A' || b > 'Z')
            continue;
        p->iban[(a - 'A') * 26 + (b - 'A')] = (int)PyLong_AsLong(value);
        if (p->iban[(a - 'A') * 26 + (b - 'A')] > p->iban_max)
            p->iban_max = p->iban[(a - 'A') * 26 + (b - 'A')];
    }
    if (PyErr_Occurred())
        goto fail;
    PyObject *capsule = PyCapsule_New(p, "collector.wire._pii.Program", capsule_free);
    if (capsule == NULL)
        goto fail;
    return capsule;
fail:
    program_free(p);
    return NULL;
}

/* ------------------------------------------------------------------------------------------ matching */

typedef struct {
    int kind;
    const void *data;
    Py_ssize_t len;
    Py_ssize_t cap_s[MAX_GROUPS], cap_e[MAX_GROUPS];
    Py_ssize_t end;
    long steps, budget;
    int depth, abort;
} M;

/* Most values are Latin-1 (one byte a character): reading those without PyUnicode_READ's switch on the kind
 * lets the compiler keep the matcher's loops tight (~15-18% of a dense value's exact pass). */
#define CH(m, i)                                                                                        \
    (__builtin_expect((m)->kind == PyUnicode_1BYTE_KIND, 1) ? (Py_UCS4)((const Py_UCS1 *)(m)->data)[i]   \
                                                            : PyUnicode_READ((m)->kind, (m)->data, (i)))

enum { F_SEQ, F_GROUP, F_REPEAT, F_ASSERT };

typedef struct Frame {
    int kind;
    const Node *node;
    struct Frame *up;
    Py_ssize_t count, start;
} Frame;

static int match(M *m, const Node *n, Py_ssize_t pos, Frame *k);

/* A simple look-around's body at `pos`, without frames (nothing in it can match two ways). */
static int simple_body(const M *m, const Node *n, Py_ssize_t pos);

static int simple_assert(const M *m, const Node *n, Py_ssize_t pos) {
    Py_ssize_t at = n->dir < 0 ? pos - n->width : pos;
    int ok = at >= 0 && simple_body(m, n->body, at);
    return ok != n->neg;
}

static int simple_body(const M *m, const Node *n, Py_ssize_t pos) {
    for (; n != NULL; n = n->next) {
        if (n->op == N_SET) {
            if (pos >= m->len || !in_set(n, CH(m, pos)))
                return 0;
            pos++;
        } else if (!simple_assert(m, n, pos))
            return 0;
    }
    return 1;
}

static int call(M *m, const Node *n, Py_ssize_t pos, Frame *k) {
    if (++m->depth > MAX_DEPTH) {
        m->abort = 1;
        m->depth--;
        return 0;
    }
    int r = match(m, n, pos, k);
    m->depth--;
    return r;
}

/* A repeat whose body is not one set, at iteration `count` (done so far) from `pos`. */
static int repeat(M *m, const Node *n, Py_ssize_t pos, Py_ssize_t count, Frame *k) {
    Frame f = {F_REPEAT, n, k, count + 1, pos};
    if (count < n->min)
        return call(m, n->body, pos, &f);
    int more = n->max < 0 || count < n->max;
    if (n->greedy) {
        if (more && call(m, n->body, pos, &f))
            return 1;
        if (m->abort)
            return 0;
        return call(m, n->next, pos, k);
    }
    if (call(m, n->next, pos, k))
        return 1;
    if (m->abort || !more)
        return 0;
    return call(m, n->body, pos, &f);
}

static int match(M *m, const Node *n, Py_ssize_t pos, Frame *k) {
    if (++m->steps > m->budget) {
        m->abort = 1;
        return 0;
    }
    for (;;) {
        if (n == NULL) {
            if (k == NULL) {
                m->end = pos;
                return 1;
            }
            switch (k->kind) {
            case F_ASSERT:
                return 1;
            case F_SEQ:
                n = k->node->next;
                k = k->up;
                continue;
            case F_GROUP: {
                int g = k->node->group;
                Py_ssize_t old = m->cap_e[g];
                m->cap_e[g] = pos;
                if (call(m, k->node->next, pos, k->up))
                    return 1;
                m->cap_e[g] = old;
                return 0;
            }
            default: /* F_REPEAT: one more iteration done */
                if (pos == k->start) { /* an empty iteration: the repeat ends here */
                    n = k->node->next;
                    k = k->up;
                    continue;
                }
                return repeat(m, k->node, pos, k->count, k->up);
            }
        }
        switch (n->op) {
        case N_SET:
            if (pos >= m->len || !in_set(n, CH(m, pos)))
                return 0;
            pos++;
            n = n->next;
            continue;
        case N_REPEAT:
            if (n->single) {
                const Node *s = n->body;
                Py_ssize_t room = m->len - pos;
                Py_ssize_t most = n->max < 0 || n->max > room ? room : n->max;
                Py_ssize_t c = 0;
                if (n->greedy) {
                    while (c < most && in_set(s, CH(m, pos + c)))
                        c++;
                    if (c < n->min)
                        return 0;
                    if (c == n->min) { /* no shorter count to fall back to */
                        pos += c;
                        n = n->next;
                        continue;
                    }
                    for (; c >= n->min; c--) {
                        if (call(m, n->next, pos + c, k))
                            return 1;
                        if (m->abort)
                            return 0;
                    }
                    return 0;
                }
                for (; c < n->min; c++)
                    if (c >= room || !in_set(s, CH(m, pos + c)))
                        return 0;
                for (;;) {
                    if (call(m, n->next, pos + c, k))
                        return 1;
                    if (m->abort || c >= most || !in_set(s, CH(m, pos + c)))
                        return 0;
                    c++;
                }
            }
            return repeat(m, n, pos, 0, k);
        case N_GROUP: {
            int g = n->group;
            Py_ssize_t old_s = m->cap_s[g], old_e = m->cap_e[g];
            Frame f = {F_GROUP, n, k, 0, 0};
            m->cap_s[g] = pos;
            if (call(m, n->body, pos, &f))
                return 1;
            m->cap_s[g] = old_s;
            m->cap_e[g] = old_e;
            return 0;
        }
        case N_BRANCH: {
            Frame f = {F_SEQ, n, k, 0, 0};
            for (Py_ssize_t i = 0; i < n->nalts; i++) {
                if (call(m, n->alts[i], pos, &f))
                    return 1;
                if (m->abort)
                    return 0;
            }
            return 0;
        }
        default: { /* N_ASSERT */
            if (n->simple) {
                if (!simple_assert(m, n, pos))
                    return 0;
                n = n->next;
                continue;
            }
            Py_ssize_t at = n->dir < 0 ? pos - n->width : pos;
            int ok = 0;
            if (at >= 0) {
                Frame f = {F_ASSERT, n, NULL, 0, 0};
                ok = call(m, n->body, at, &f); /* a look-behind's body has the fixed width it looks back */
                if (m->abort)
                    return 0;
            }
            if (ok == n->neg)
                return 0;
            n = n->next;
            continue;
        }
        }
    }
}

/* An anchored match of a branch at `start`; 1 with m->end and the captures set. */
static int match_at(M *m, const Branch *br, Py_ssize_t start) {
    for (int g = 0; g < MAX_GROUPS; g++)
        m->cap_s[g] = m->cap_e[g] = -1;
    m->depth = 0;
    return match(m, br->seq, start, NULL);
}

/* ------------------------------------------------------------------------------- acceptors, validators */

static Py_ssize_t digits_of(M *m, Py_ssize_t s, Py_ssize_t e, char *out, Py_ssize_t room) {
    /* The ASCII digits of text[s:e] without its spaces and dashes; -1 if more than `room`. */
    Py_ssize_t n = 0;
    for (Py_ssize_t i = s; i < e; i++) {
        Py_UCS4 c = CH(m, i);
        if (c == ' ' || c == '-')
            continue;
        if (n == room)
            return -1;
        out[n++] = (char)c;
    }
    return n;
}

static int luhn_digits(const char *d, Py_ssize_t n, Py_ssize_t min_digits) {
    if (n < min_digits || n > 19)
        return 0;
    int total = 0, dbl = 0;
    static const int twice[10] = {0, 2, 4, 6, 8, 1, 3, 5, 7, 9};
    for (Py_ssize_t i = n - 1; i >= 0; i--) {
        int v = d[i] - '0';
        if (v < 0 || v > 9)
            return 0;
        total += dbl ? twice[v] : v;
        dbl = !dbl;
    }
    return total % 10 == 0 && total != 0;
}

static int card_ok(const char *d, Py_ssize_t n) {
    if (n == 15 && memcmp(d, "1800", 4) == 0)
        return luhn_digits(d, n, 13);
    if (n == 12) {
        static const char *maestro[] = {"50", "56", "57", "58", "0604", "6304", "6390", "67"};
        for (int i = 0; i < 8; i++)
            if (memcmp(d, maestro[i], strlen(maestro[i])) == 0)
                return luhn_digits(d, n, 12);
        return 0;
    }
    if (n == 0 || d[0] < '2' || d[0] > '6')
        return 0;
    return 13 <= n && n <= 19 && luhn_digits(d, n, 13);
}

/* detectors._accept_card over text[s:e] (digits, spaces and dashes); 1 with the kept span in *a, *b. */
static int accept_card(M *m, Py_ssize_t s, Py_ssize_t e, Py_ssize_t *a, Py_ssize_t *b) {
    char whole[20];
    Py_ssize_t n = digits_of(m, s, e, whole, 20);
    if (n >= 0 && n <= 19 && card_ok(whole, n)) {
        *a = s;
        *b = e;
        return 1;
    }
    /* The runs of digits. A card match is at most 19 digits with separators, so there are few. */
    Py_ssize_t gs[64], ge[64];
    int count = 0;
    for (Py_ssize_t i = s; i < e;) {
        Py_UCS4 c = CH(m, i);
        if (c >= '0' && c <= '9') {
            Py_ssize_t j = i;
            while (j < e && CH(m, j) >= '0' && CH(m, j) <= '9')
                j++;
            if (count == 64)
                return -1;
            gs[count] = i;
            ge[count++] = j;
            i = j;
        } else
            i++;
    }
    int found = 0;
    Py_ssize_t best_len = 11;
    for (int i = 0; i < count; i++) {
        if (i > 0 && ge[i - 1] - gs[i - 1] >= 4)
            continue;
        char digits[20];
        Py_ssize_t len = 0;
        for (int j = i; j < count; j++) {
            Py_ssize_t size = ge[j] - gs[j];
            if (len + size > 19)
                break;
            for (Py_ssize_t x = gs[j]; x < ge[j]; x++)
                digits[len++] = (char)CH(m, x);
            if (len <= best_len)
                continue;
            if (j + 1 < count && ge[j + 1] - gs[j + 1] >= 4)
                continue;
            if (card_ok(digits, len)) {
                *a = gs[i];
                *b = ge[j];
                best_len = len;
                found = 1;
            }
        }
    }
    return found;
}

static int mod11(int total) {
    int r = total % 11;
    return r < 2 ? 0 : 11 - r;
}

static int cpf_ok(M *m, Py_ssize_t s, Py_ssize_t n) {
    static const int formatted[11] = {0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13};
    int pos[11];
    if (n == 14) {
        if (CH(m, s + 3) != '.' || CH(m, s + 7) != '.' || CH(m, s + 11) != '-')
            return 0;
        memcpy(pos, formatted, sizeof pos);
    } else if (n == 11) {
        for (int i = 0; i < 11; i++)
            pos[i] = i;
    } else
        return 0;
    int s1 = 0, s2 = 0, first = -1, same = 1;
    for (int k = 0; k < 9; k++) {
        Py_UCS4 c = CH(m, s + pos[k]);
        if (c < '0' || c > '9')
            return 0;
        int d = (int)(c - '0');
        if (k == 0)
            first = d;
        else if (d != first)
            same = 0;
        s1 += d * (10 - k);
        s2 += d * (11 - k);
    }
    Py_UCS4 c1 = CH(m, s + pos[9]), c2 = CH(m, s + pos[10]);
    if (c1 < '0' || c1 > '9' || c2 < '0' || c2 > '9' || same)
        return 0;
    int dv1 = (int)(c1 - '0'), dv2 = (int)(c2 - '0');
    return mod11(s1) == dv1 && mod11(s2 + dv1 * 2) == dv2;
}

static int cnpj_ok(M *m, Py_ssize_t s, Py_ssize_t n) {
    static const int formatted[14] = {0, 1, 3, 4, 5, 7, 8, 9, 11, 12, 13, 14, 16, 17};
    static const int w1[12] = {5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2};
    static const int w2[13] = {6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2};
    int pos[14];
    if (n == 18) {
        if (CH(m, s + 2) != '.' || CH(m, s + 6) != '.' || CH(m, s + 10) != '/' || CH(m, s + 15) != '-')
            return 0;
        memcpy(pos, formatted, sizeof pos);
    } else if (n == 14) {
        for (int i = 0; i < 14; i++)
            pos[i] = i;
    } else
        return 0;
    int s1 = 0, s2 = 0, first = -1, same = 1;
    for (int k = 0; k < 12; k++) {
        Py_UCS4 c = CH(m, s + pos[k]);
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z')))
            return 0;
        int v = (int)c - 48;
        if (k == 0)
            first = v;
        else if (v != first)
            same = 0;
        s1 += v * w1[k];
        s2 += v * w2[k];
    }
    Py_UCS4 c1 = CH(m, s + pos[12]), c2 = CH(m, s + pos[13]);
    if (c1 < '0' || c1 > '9' || c2 < '0' || c2 > '9' || same)
        return 0;
    int dv1 = (int)(c1 - '0'), dv2 = (int)(c2 - '0');
    return mod11(s1) == dv1 && mod11(s2 + dv1 * 2) == dv2;
}

static int is_digits(M *m, Py_ssize_t s, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++)
        if (CH(m, s + i) < '0' || CH(m, s + i) > '9')
            return 0;
    return 1;
}

static int ssn_ok(M *m, Py_ssize_t s, Py_ssize_t n) {
    if (n != 11)
        return 0;
    Py_UCS4 sep = CH(m, s + 3);
    if ((sep != '-' && sep != ' ') || CH(m, s + 6) != sep)
        return 0;
    if (!is_digits(m, s, 3) || !is_digits(m, s + 4, 2) || !is_digits(m, s + 7, 4))
        return 0;
    Py_UCS4 a0 = CH(m, s), a1 = CH(m, s + 1), a2 = CH(m, s + 2);
    if ((a0 == '0' && a1 == '0' && a2 == '0') || (a0 == '6' && a1 == '6' && a2 == '6') || a0 == '9')
        return 0;
    if (CH(m, s + 4) == '0' && CH(m, s + 5) == '0')
        return 0;
    return !(CH(m, s + 7) == '0' && CH(m, s + 8) == '0' && CH(m, s + 9) == '0' && CH(m, s + 10) == '0');
}

static int iban_ok(const Program *p, M *m, Py_ssize_t s, Py_ssize_t n) {
    if (n < 15 || n > 2 * p->iban_max || CH(m, s) == ' ' || CH(m, s + n - 1) == ' ')
        return 0;
    char c[80];
    Py_ssize_t len = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 ch = CH(m, s + i);
        if (ch == ' ') {
            if (CH(m, s + i + 1) == ' ')
                return 0; /* "  " (the last character is no space, so i + 1 < n) */
            continue;
        }
        if (ch >= 128 || len == 79)
            return 0;
        c[len++] = (char)ch;
    }
    if (len < 2)
        return 0;
    int a = c[0] >= 'a' && c[0] <= 'z' ? c[0] - 32 : c[0], b = c[1] >= 'a' && c[1] <= 'z' ? c[1] - 32 : c[1];
    if (a < 'A' || a > 'Z' || b < 'A' || b > 'Z')
        return 0;
    int length = p->iban[(a - 'A') * 26 + (b - 'A')];
    if (length == 0 || len != length)
        return 0;
    for (Py_ssize_t i = 0; i < len; i++) {
        char ch = c[i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z')))
            return 0;
    }
    if (len < 4 || c[2] < '0' || c[2] > '9' || c[3] < '0' || c[3] > '9')
        return 0;
    int check = (c[2] - '0') * 10 + (c[3] - '0');
    if (check < 2 || check > 98)
        return 0;
    int rest = 0;
    for (Py_ssize_t i = 0; i < len; i++) {
        char ch = c[(i + 4) % len];
        if (ch >= '0' && ch <= '9')
            rest = (rest * 10 + (ch - '0')) % 97;
        else {
            int v = (ch >= 'a' ? ch - 'a' : ch - 'A') + 10;
            rest = (rest * 100 + v) % 97;
        }
    }
    return rest == 1;
}

/* detectors._accept_groups(iban): the whole, else the longest prefix that ends before a space. */
static int accept_iban(const Program *p, M *m, Py_ssize_t s, Py_ssize_t e, Py_ssize_t *b) {
    if (iban_ok(p, m, s, e - s)) {
        *b = e;
        return 1;
    }
    Py_ssize_t end = e - s;
    for (;;) {
        Py_ssize_t k = end - 1;
        while (k >= 0 && CH(m, s + k) != ' ')
            k--;
        end = k;
        if (end <= 0)
            return 0;
        if (iban_ok(p, m, s, end)) {
            *b = s + end;
            return 1;
        }
    }
}

static int accept_phone(M *m, Py_ssize_t s, Py_ssize_t e) {
    Py_ssize_t n = e - s;
    if (n == 10) { /* detectors._DATE_SHAPE */
#define SEP(c) ((c) == '-' || (c) == '/' || (c) == '.')
        if (is_digits(m, s, 4) && SEP(CH(m, s + 4)) && is_digits(m, s + 5, 2) && SEP(CH(m, s + 7)) && is_digits(m, s + 8, 2))
            return 0;
        if (is_digits(m, s, 2) && SEP(CH(m, s + 2)) && is_digits(m, s + 3, 2) && SEP(CH(m, s + 5)) && is_digits(m, s + 6, 4))
            return 0;
#undef SEP
    }
    Py_ssize_t cut = n;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = CH(m, s + i);
        if (c == 'x' || c == 'X' || (c == 'e' && i + 2 < n && CH(m, s + i + 1) == 'x' && CH(m, s + i + 2) == 't')) {
            cut = i;
            break;
        }
    }
    int digits = 0;
    for (Py_ssize_t i = 0; i < cut; i++) {
        Py_UCS4 c = CH(m, s + i);
        digits += c >= '0' && c <= '9';
    }
    return 7 <= digits && digits <= 15;
}

static int accept_ipv4(M *m, Py_ssize_t s, Py_ssize_t e) {
    Py_ssize_t i = s;
    while (i <= e) {
        Py_ssize_t j = i;
        int value = 0;
        while (j < e && CH(m, j) != '.') {
            Py_UCS4 c = CH(m, j);
            if (c < '0' || c > '9' || j - i >= 3)
                return 0;
            value = value * 10 + (int)(c - '0');
            j++;
        }
        if (j == i || (j - i > 1 && CH(m, i) == '0') || value > 255)
            return 0;
        i = j + 1;
    }
    return 1;
}

static int accept_bearer(M *m, Py_ssize_t s, Py_ssize_t e) {
    for (Py_ssize_t i = s + 1; i < e; i++) {
        Py_UCS4 c = CH(m, i);
        if ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z'))
            return 1;
    }
    return 0;
}

/* The finding a match gives: its group's span (or the whole), narrowed by the acceptor. 1: kept in *a, *b;
 * 0: rejected; -1: unsure (the caller runs Python on the value). */
static int finding(const Program *p, M *m, const Rule *rule, const Branch *br, Py_ssize_t ms, Py_ssize_t me,
                   Py_ssize_t *a, Py_ssize_t *b) {
    Py_ssize_t s = ms, e = me;
    if (br->group >= 0 && m->cap_s[br->group] >= 0) {
        s = m->cap_s[br->group];
        e = m->cap_e[br->group];
    }
    switch (rule->accept) {
    case ACC_NONE:
        break;
    case ACC_CARD: {
        int r = accept_card(m, s, e, &s, &e);
        if (r <= 0)
            return r;
        break;
    }
    case ACC_PHONE:
        if (!accept_phone(m, s, e))
            return 0;
        break;
    case ACC_CPF:
        if (!cpf_ok(m, s, e - s))
            return 0;
        break;
    case ACC_CNPJ:
        if (!cnpj_ok(m, s, e - s))
            return 0;
        break;
    case ACC_SSN:
        if (!ssn_ok(m, s, e - s))
            return 0;
        break;
    case ACC_IBAN:
        if (!accept_iban(p, m, s, e, &e))
            return 0;
        break;
    case ACC_IPV4:
        if (!accept_ipv4(m, s, e))
            return 0;
        break;
    case ACC_BEARER:
        if (!accept_bearer(m, s, e))
            return 0;
        break;
    default:
        return -1;
    }
    if (e <= s)
        return 0;
    *a = s;
    *b = e;
    return 1;
}

/* ------------------------------------------------------------------------------------------ the scan */

typedef struct {
    Py_ssize_t start, end, cs[MAX_GROUPS], ce[MAX_GROUPS];
    int branch; /* flat index */
} Hit;

typedef struct {
    Hit *hits;
    Py_ssize_t count, capacity;
} Hits;

static int add_hit(Hits *h, M *m, Py_ssize_t start, int branch) {
    if (h->count == h->capacity) {
        Py_ssize_t capacity = h->capacity ? h->capacity * 2 : 32;
        Hit *grown = PyMem_RawRealloc(h->hits, sizeof(Hit) * (size_t)capacity); /* without the GIL */
        if (grown == NULL)
            return -1;
        h->hits = grown;
        h->capacity = capacity;
    }
    Hit *hit = &h->hits[h->count++];
    hit->start = start;
    hit->end = m->end;
    memcpy(hit->cs, m->cap_s, sizeof hit->cs);
    memcpy(hit->ce, m->cap_e, sizeof hit->ce);
    hit->branch = branch;
    return 0;
}

static inline int local_char(Py_UCS4 c) {
    return Py_UNICODE_ISALNUM(c) || c == '_' || c == '.' || c == '%' || c == '+' || c == '-';
}

/* rules._email_matches: the pattern tried once per "@", anchored where the run of local-part characters
 * before it starts. */
static int email_hits(M *m, int f, const Branch *br, Hits *h) {
    Py_ssize_t previous_end = 0, n = m->len;
    Py_ssize_t at = 0;
    while (at < n && CH(m, at) != '@')
        at++;
    while (at < n) {
        Py_ssize_t start = at;
        while (start > previous_end && local_char(CH(m, start - 1)))
            start--;
        if (start < at && start > 0 && CH(m, start - 1) == '\\') {
            Py_UCS4 c = CH(m, start);
            if (c == 'n' || c == 'r' || c == 't')
                start++;
        }
        if (start < at && (start > previous_end || (start == previous_end && previous_end == 0) || !local_char(CH(m, start - 1)))) {
            if (match_at(m, br, start)) {
                if (m->end <= start)
                    return -1;
                if (add_hit(h, m, start, f) < 0)
                    return -2;
                previous_end = m->end;
            } else if (m->abort)
                return -1;
        }
        at = at + 1 > previous_end ? at + 1 : previous_end;
        while (at < n && CH(m, at) != '@')
            at++;
    }
    return 0;
}

/* Every match of the active branches in the value, as each branch's finditer gives them: 0, 1 if the matcher
 * gave up (its budget, or an empty match), -1 out of memory. No Python object is touched: for a long value the
 * caller lets other threads run meanwhile. */
static int collect(const Program *p, M *m, uint64_t active, Hits *h) {
    Py_ssize_t next[MAX_BRANCHES];
    for (int f = 0; f < MAX_BRANCHES; f++)
        next[f] = 0;
    uint64_t scanned = active & ~p->email;
    uint64_t wide = scanned & p->wide;
    if (scanned) {
        Py_UCS4 before = 128; /* none: nothing is rejected at the start */
        for (Py_ssize_t s = 0; s < m->len; before = CH(m, s), s++) {
            Py_UCS4 c = CH(m, s);
            uint64_t candidates = c < 128 ? p->table[c] & scanned : wide;
            if (before < 128)
                candidates &= ~p->rejected[before];
            while (candidates) {
                int f = __builtin_ctzll(candidates);
                candidates &= candidates - 1;
                if (s < next[f])
                    continue;
                const Branch *br = p->flat[f];
                if (c >= 128 && br->first != NULL) {
                    int ok = 0;
                    for (Py_ssize_t i = 0; i < br->nfirst && !ok; i++)
                        ok = in_set(br->first[i], c);
                    if (!ok)
                        continue;
                }
                if (br->second != NULL) {
                    int ok = 0;
                    if (s + 1 < m->len) {
                        Py_UCS4 c2 = CH(m, s + 1);
                        for (Py_ssize_t i = 0; i < br->nsecond && !ok; i++)
                            ok = in_set(br->second[i], c2);
                    }
                    if (!ok)
                        continue;
                }
                if (match_at(m, br, s)) {
                    if (m->end <= s) /* an empty match: finditer's rules for those are not copied here */
                        return 1;
                    if (add_hit(h, m, s, f) < 0)
                        return -1;
                    next[f] = m->end;
                } else if (m->abort)
                    return 1;
            }
        }
    }
    uint64_t email = active & p->email;
    while (email) {
        int f = __builtin_ctzll(email);
        email &= email - 1;
        int r = email_hits(m, f, p->flat[f], h);
        if (r == -2)
            return -1;
        if (r < 0)
            return 1;
    }
    return 0;
}

static int cmp_hit(const void *x, const void *y) {
    const Hit *a = x, *b = y;
    if (a->start != b->start)
        return a->start < b->start ? -1 : 1;
    return a->branch - b->branch;
}

typedef struct {
    Py_ssize_t start, end;
    int rule; /* index into the program's rules */
} Span;

static int by_start(const void *x, const void *y) {
    const Span *a = x, *b = y;
    return a->start < b->start ? -1 : a->start > b->start;
}

static const Program *sorting; /* the program whose rules' priorities by_priority reads (under the GIL) */

/* rules._resolve's order: the higher-priority rule, then the longer span, then the earlier one. */
static int by_priority(const void *x, const void *y) {
    const Span *a = x, *b = y;
    long pa = sorting->rules[a->rule].priority, pb = sorting->rules[b->rule].priority;
    if (pa != pb)
        return pa < pb ? -1 : 1;
    Py_ssize_t la = a->end - a->start, lb = b->end - b->start;
    if (la != lb)
        return la > lb ? -1 : 1;
    return a->start < b->start ? -1 : a->start > b->start;
}

#define RESOLVE_MAX 256 /* more overlapping spans than this: rules._resolve (O(n log n)) takes them */

/* rules._resolve over the spans, in place: 1 and *count the kept ones, sorted by start; 0 if there are too
 * many overlapping ones to do here. */
static int resolve_spans(const Program *p, Span *spans, Py_ssize_t *count) {
    Py_ssize_t n = *count;
    if (n < 2)
        return 1; /* nothing to order (and qsort must not be given a null array) */
    qsort(spans, (size_t)n, sizeof(Span), by_start);
    int disjoint = 1;
    for (Py_ssize_t i = 1; i < n && disjoint; i++)
        disjoint = spans[i - 1].start < spans[i].start && spans[i - 1].end <= spans[i].start;
    if (disjoint)
        return 1;
    if (n > RESOLVE_MAX)
        return 0;
    sorting = p;
    qsort(spans, (size_t)n, sizeof(Span), by_priority);
    Py_ssize_t kept = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        int free = 1;
        for (Py_ssize_t j = 0; j < kept && free; j++)
            free = !(spans[j].start < spans[i].end && spans[j].end > spans[i].start);
        if (free)
            spans[kept++] = spans[i];
    }
    for (Py_ssize_t i = 1; i < kept; i++) { /* by start, stable: spans starting together stay in priority order */
        Span s = spans[i];
        Py_ssize_t j = i;
        while (j > 0 && spans[j - 1].start > s.start) {
            spans[j] = spans[j - 1];
            j--;
        }
        spans[j] = s;
    }
    *count = kept;
    return 1;
}

static PyObject *new_finding(const Program *p, const Span *s) {
    PyObject *f = p->finding->tp_alloc(p->finding, 0);
    if (f == NULL)
        return NULL;
    PyObject *start = PyLong_FromSsize_t(s->start), *end = PyLong_FromSsize_t(s->end);
    if (start == NULL || end == NULL) {
        Py_XDECREF(start);
        Py_XDECREF(end);
        Py_DECREF(f);
        return NULL;
    }
    *(PyObject **)((char *)f + p->offsets[0]) = start;
    *(PyObject **)((char *)f + p->offsets[1]) = end;
    *(PyObject **)((char *)f + p->offsets[2]) = Py_NewRef(p->rules[s->rule].name);
    *(PyObject **)((char *)f + p->offsets[3]) = Py_NewRef(Py_False);
    return f;
}

/* (True, [Finding, ...]) resolved, or (False, [(k, start, end), ...]) for the caller to resolve. */
static PyObject *answer(const Program *p, Span *spans, Py_ssize_t count, int resolve) {
    int resolved = resolve && resolve_spans(p, spans, &count);
    PyObject *items = PyList_New(count);
    if (items == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *item = resolved ? new_finding(p, &spans[i])
                                  : Py_BuildValue("(Onn)", p->rules[spans[i].rule].k, spans[i].start, spans[i].end);
        if (item == NULL) {
            Py_DECREF(items);
            return NULL;
        }
        PyList_SET_ITEM(items, i, item);
    }
    PyObject *out = Py_BuildValue("(ON)", resolved ? Py_True : Py_False, items);
    return out;
}

/* scan(program, text, rules, resolve) -> (resolved, items) or None
 * `rules`: a bitmask of the program's rules to run. None: the Python pass must scan this value (a match ran
 * past the budget). With `resolve`, items are the value's Findings (rules._resolve's), unless there were too
 * many overlapping spans: then, as without `resolve`, they are (k, start, end) for each rule's finding. */
static PyObject *py_scan(PyObject *self, PyObject *args) {
    PyObject *capsule, *text;
    unsigned long long wanted;
    int resolve;
    if (!PyArg_ParseTuple(args, "OUKp", &capsule, &text, &wanted, &resolve))
        return NULL;
    Program *p = PyCapsule_GetPointer(capsule, "collector.wire._pii.Program");
    if (p == NULL || PyUnicode_READY(text) < 0)
        return NULL;
    M m;
    memset(&m, 0, sizeof m);
    m.kind = PyUnicode_KIND(text);
    m.data = PyUnicode_DATA(text);
    m.len = PyUnicode_GET_LENGTH(text);
    m.budget = 20000 + 400 * (long)m.len;
    uint64_t active = 0;
    for (Py_ssize_t r = 0; r < p->nrules; r++) {
        const Rule *rule = &p->rules[r];
        if (r < 64 && ((wanted >> r) & 1) && m.len >= rule->min_len)
            for (Py_ssize_t b = 0; b < rule->nbranches; b++)
                active |= (uint64_t)1 << (rule->first_branch + b);
    }
    Hits h = {NULL, 0, 0};
    PyObject *out = NULL;
    int collected;
    if (m.len >= RELEASE_GIL) {
        Py_BEGIN_ALLOW_THREADS
        collected = collect(p, &m, active, &h);
        Py_END_ALLOW_THREADS
    } else
        collected = collect(p, &m, active, &h);
    if (collected < 0) {
        PyErr_NoMemory();
        goto done;
    }
    if (collected > 0) {
        out = Py_NewRef(Py_None);
        goto done;
    }
    /* Hits come by start; each rule's branches are merged leftmost first, the earlier branch on a tie. */
    if (h.count > 1)
        qsort(h.hits, (size_t)h.count, sizeof(Hit), cmp_hit);
    Span *spans = h.count ? PyMem_Malloc(sizeof(Span) * (size_t)h.count) : NULL;
    if (h.count && spans == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t count = 0;
    for (Py_ssize_t r = 0; r < p->nrules; r++) {
        const Rule *rule = &p->rules[r];
        Py_ssize_t last_end = 0;
        for (Py_ssize_t i = 0; i < h.count; i++) {
            Hit *hit = &h.hits[i];
            if (p->owner[hit->branch] != r || hit->start < last_end)
                continue;
            last_end = hit->end > hit->start + 1 ? hit->end : hit->start + 1;
            memcpy(m.cap_s, hit->cs, sizeof m.cap_s);
            memcpy(m.cap_e, hit->ce, sizeof m.cap_e);
            Py_ssize_t a, b;
            int kept = finding(p, &m, rule, p->flat[hit->branch], hit->start, hit->end, &a, &b);
            if (kept < 0) {
                PyMem_Free(spans);
                out = Py_NewRef(Py_None);
                goto done;
            }
            if (kept)
                spans[count++] = (Span){a, b, (int)r};
        }
    }
    out = answer(p, spans, count, resolve);
    PyMem_Free(spans);
done:
    PyMem_RawFree(h.hits);
    return out;
}

/* ------------------------------------------------------------------------------------------- rewrite */

static PyTypeObject *rewrite_type; /* the Finding class `rewrite` last saw, and where its slots are */
static Py_ssize_t rewrite_offsets[4];

static int finding_slots(PyTypeObject *type) {
    if (type == rewrite_type)
        return 1;
    static const char *slots[4] = {"start", "end", "detector", "error"};
    Py_ssize_t offsets[4];
    for (int i = 0; i < 4; i++) {
        PyObject *d = PyObject_GetAttrString((PyObject *)type, slots[i]);
        if (d == NULL) {
            PyErr_Clear();
            return 0;
        }
        int ok = Py_IS_TYPE(d, &PyMemberDescr_Type) && ((PyMemberDescrObject *)d)->d_member->type == T_OBJECT_EX;
        if (ok)
            offsets[i] = ((PyMemberDescrObject *)d)->d_member->offset;
        Py_DECREF(d);
        if (!ok)
            return 0;
    }
    Py_XSETREF(rewrite_type, (PyTypeObject *)Py_NewRef(type));
    memcpy(rewrite_offsets, offsets, sizeof offsets);
    return 1;
}

#define SLOT(f, i) (*(PyObject **)((char *)(f) + rewrite_offsets[i]))

/* rewrite(text, findings, placeholders) -> (text, {detector: count}) or None
 * edits.Edits._rewrite where every rule masks and no allowed_values apply: each finding (sorted, disjoint)
 * becomes its detector's placeholder; counts by detector in the order first found. None where that does not
 * hold for these findings (an error finding, a detector without a placeholder, another kind of finding): the
 * caller's Python rewrite then takes them. */
static PyObject *py_rewrite(PyObject *self, PyObject *args) {
    PyObject *text, *found, *placeholders;
    if (!PyArg_ParseTuple(args, "UO!O!", &text, &PyList_Type, &found, &PyDict_Type, &placeholders))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(found), len = PyUnicode_GET_LENGTH(text);
    if (n == 0 || !finding_slots(Py_TYPE(PyList_GET_ITEM(found, 0))))
        Py_RETURN_NONE;
    _PyUnicodeWriter writer;
    _PyUnicodeWriter_Init(&writer);
    PyObject *counts = PyDict_New();
    if (counts == NULL)
        return NULL;
    Py_ssize_t pos = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *f = PyList_GET_ITEM(found, i);
        if (Py_TYPE(f) != rewrite_type)
            goto python;
        PyObject *start = SLOT(f, 0), *end = SLOT(f, 1), *detector = SLOT(f, 2), *error = SLOT(f, 3);
        if (start == NULL || end == NULL || detector == NULL || error != Py_False || !PyLong_Check(start) || !PyLong_Check(end))
            goto python;
        Py_ssize_t s = PyLong_AsSsize_t(start), e = PyLong_AsSsize_t(end);
        if (s == -1 || e == -1) {
            PyErr_Clear();
            goto python;
        }
        PyObject *placeholder = PyDict_GetItemWithError(placeholders, detector);
        if (placeholder == NULL || !PyUnicode_Check(placeholder) || s < pos || e < s || e > len) {
            if (PyErr_Occurred())
                goto fail;
            goto python;
        }
        if ((s > pos && _PyUnicodeWriter_WriteSubstring(&writer, text, pos, s) < 0) ||
            _PyUnicodeWriter_WriteStr(&writer, placeholder) < 0)
            goto fail;
        pos = e;
        PyObject *count = PyDict_GetItemWithError(counts, detector);
        if (count == NULL && PyErr_Occurred())
            goto fail;
        PyObject *next = PyLong_FromSsize_t(count == NULL ? 1 : PyLong_AsSsize_t(count) + 1);
        if (next == NULL || PyDict_SetItem(counts, detector, next) < 0) {
            Py_XDECREF(next);
            goto fail;
        }
        Py_DECREF(next);
    }
    if (pos < len && _PyUnicodeWriter_WriteSubstring(&writer, text, pos, len) < 0)
        goto fail;
    PyObject *out = _PyUnicodeWriter_Finish(&writer);
    if (out == NULL) {
        Py_DECREF(counts);
        return NULL;
    }
    return Py_BuildValue("(NN)", out, counts);
python:
    _PyUnicodeWriter_Dealloc(&writer);
    Py_DECREF(counts);
    Py_RETURN_NONE;
fail:
    _PyUnicodeWriter_Dealloc(&writer);
    Py_DECREF(counts);
    return NULL;
}

static PyMethodDef methods[] = {
    {"compile", py_compile, METH_VARARGS, "compile(rules, iban_lengths, Finding) -> program (see collector/pii/compiled.py)"},
    {"scan", py_scan, METH_VARARGS, "scan(program, text, rules_mask, resolve) -> (resolved, items) or None"},
    {"rewrite", py_rewrite, METH_VARARGS, "rewrite(text, findings, placeholders) -> (text, counts) or None"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_pii",
    "The built-in PII detectors' exact pass in C; collector/pii/compiled.py is its Python side.", -1, methods,
};

PyMODINIT_FUNC PyInit__pii(void) { return PyModule_Create(&module); }
