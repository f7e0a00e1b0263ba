// The try-it panel: a photo through the model's own preprocessing and the
// classification extension, or any JSON request for any model.
import { ApiError, type Api } from './api';
import { classificationsOf, type ClassResult } from './classification';
import { byId, errorText, h, setText } from './dom';
import { prepareImage } from './image-canvas';
import { buildBinaryInferRequest } from './infer-request';
import { formatJson, requestTemplate } from './template';
import type { ModelInfo, Preprocessing } from './types';

type Mode = 'image' | 'json';

function scoreText(score: number): string {
  return Math.abs(score) >= 1 ? score.toFixed(2) : score.toFixed(4);
}

export class TryIt {
  private readonly select = byId<HTMLSelectElement>('try-model');
  private readonly status = byId('try-status');
  private readonly imagePane = byId('try-image');
  private readonly jsonPane = byId('try-json');
  private readonly dropzone = byId('dropzone');
  private readonly fileInput = byId<HTMLInputElement>('image-input');
  private readonly result = byId('image-result');
  private readonly preview = byId<HTMLCanvasElement>('preview');
  private readonly top5 = byId<HTMLOListElement>('top5');
  private readonly body = byId<HTMLTextAreaElement>('json-body');
  private readonly response = byId('json-response');
  private readonly preprocessing = new Map<string, Preprocessing>();
  private mode: Mode = 'image';
  private names: string[] = [];
  // The model the textarea's request is for: switching modes back and
  // forth keeps what the user typed for it.
  private templateFor: string | null = null;
  // Only the newest request's answer is shown; older ones still in flight
  // when the user picks another photo or model are dropped.
  private sequence = 0;

  constructor(private readonly api: Api) {
    this.select.addEventListener('change', () => this.modelChanged());
    for (const radio of document.querySelectorAll<HTMLInputElement>('input[name="try-mode"]'))
      radio.addEventListener('change', () => radio.checked && this.setMode(radio.value as Mode));
    this.fileInput.addEventListener('change', () => {
      const file = this.fileInput.files?.[0];
      if (file) void this.classify(file);
    });
    this.dropzone.addEventListener('dragover', (e) => {
      e.preventDefault();
      this.dropzone.classList.add('dragging');
    });
    this.dropzone.addEventListener('dragleave', () => this.dropzone.classList.remove('dragging'));
    this.dropzone.addEventListener('drop', (e) => {
      e.preventDefault();
      this.dropzone.classList.remove('dragging');
      const file = e.dataTransfer?.files?.[0];
      if (file) void this.classify(file);
    });
    byId('json-run').addEventListener('click', () => void this.runJson());
    byId('json-reset').addEventListener('click', () => void this.loadTemplate(true));
  }

  updateModels(models: readonly ModelInfo[]): void {
    const names = models.map((m) => m.name);
    if (names.join('\n') === this.names.join('\n')) return;
    this.names = names;
    const keep = this.select.value;
    this.select.replaceChildren(...names.map((n) => h('option', { value: n }, n)));
    if (names.includes(keep)) this.select.value = keep;
    else if (names.length) this.modelChanged();
  }

  private get model(): string {
    return this.select.value;
  }

  private say(message: string, error = false): void {
    this.status.classList.toggle('error', error);
    setText(this.status, message);
  }

  private modelChanged(): void {
    this.sequence++;
    this.result.hidden = true;
    this.top5.replaceChildren();
    this.say('');
    if (this.mode === 'json') void this.loadTemplate(false);
  }

  // `why`: a message that the template's own must not replace.
  private setMode(mode: Mode, why?: string): void {
    this.mode = mode;
    for (const radio of document.querySelectorAll<HTMLInputElement>('input[name="try-mode"]'))
      radio.checked = radio.value === mode;
    this.imagePane.hidden = mode !== 'image';
    this.jsonPane.hidden = mode !== 'json';
    if (mode === 'json') void this.loadTemplate(false, why);
  }

  private async spec(model: string): Promise<Preprocessing> {
    const known = this.preprocessing.get(model);
    if (known) return known;
    const spec = await this.api.preprocessing(model);
    this.preprocessing.set(model, spec);
    return spec;
  }

  private async classify(file: File): Promise<void> {
    const model = this.model;
    if (!model) return this.say('Pick a model first.', true);
    const seq = ++this.sequence;
    const started = performance.now();
    this.say(`Reading how ${model} takes a photo…`);
    let spec: Preprocessing;
    try {
      spec = await this.spec(model);
    } catch (e) {
      if (seq !== this.sequence) return;
      if (e instanceof ApiError && e.status === 400) {
        const why = `This model's input is not an image (${e.message}): switched to the JSON tensor mode.`;
        this.say(why, true);
        return this.setMode('json', why);
      }
      return this.say(`Could not read ${model}'s preprocessing: ${errorText(e)}`, true);
    }
    try {
      this.say(`Classifying ${file.name || 'the photo'} with ${model}…`);
      const prepared = await prepareImage(file, spec);
      const elements = spec.shape.reduce((a, b) => a * b, 1);
      if (elements !== prepared.tensor.length)
        throw new Error(`the input shape [${spec.shape.join(', ')}] does not hold a ${spec.crop.join('x')} RGB image`);
      if (seq !== this.sequence) return;
      this.showPreview(prepared.pixels, file.name);
      const request = buildBinaryInferRequest(
        { name: spec.input, shape: spec.shape, datatype: spec.datatype, data: prepared.tensor },
        spec.output,
        5,
      );
      const answer = await this.api.inferBinary(model, request);
      if (seq !== this.sequence) return;
      const results = classificationsOf(answer);
      this.showTop5(results);
      this.say(
        results.length
          ? `${model}: ${results[0]!.label ?? `class ${results[0]!.index}`} (${Math.round(performance.now() - started)} ms)`
          : `${model} answered no classification.`,
        results.length === 0,
      );
    } catch (e) {
      if (seq !== this.sequence) return;
      this.say(`Could not classify the photo: ${errorText(e)}`, true);
    }
  }

  private showPreview(pixels: ImageData, name: string): void {
    this.preview.width = pixels.width;
    this.preview.height = pixels.height;
    this.preview.getContext('2d')?.putImageData(pixels, 0, 0);
    this.preview.setAttribute('aria-label', `${name || 'The photo'} as the model sees it, ${pixels.width}x${pixels.height}`);
    this.result.hidden = false;
  }

  private showTop5(results: readonly ClassResult[]): void {
    // Bars only when the scores are probabilities; raw logits have no scale.
    const probabilities = results.every((r) => r.score >= 0 && r.score <= 1);
    this.top5.replaceChildren(
      ...results.slice(0, 5).map((r) => {
        const label = r.label ?? `class ${r.index}`;
        const item = h(
          'li',
          { 'data-testid': 'top5-item' },
          h('span', { class: 'label' }, label),
          ' ',
          h('span', { class: 'score' }, scoreText(r.score)),
        );
        if (probabilities) {
          const bar = h('span', { class: 'score-bar', 'aria-hidden': 'true' });
          bar.style.width = `${Math.round(r.score * 100)}%`;
          item.append(bar);
        }
        return item;
      }),
    );
  }

  private async loadTemplate(force: boolean, why?: string): Promise<void> {
    const model = this.model;
    if (!model) return;
    // The textarea already holds this model's request, edited or not.
    if (!force && this.templateFor === model && this.body.value) return;
    const seq = ++this.sequence;
    if (!why) this.say(`Reading ${model}'s inputs…`);
    try {
      const metadata = await this.api.metadata(model);
      if (seq !== this.sequence) return;
      this.body.value = formatJson(requestTemplate(metadata));
      this.templateFor = model;
      setText(this.response, '');
      if (why) this.say(why, true);
      else this.say(`A request for ${model} with zeros for every input: edit it and press Run.`);
    } catch (e) {
      if (seq !== this.sequence) return;
      this.say(`Could not read ${model}'s metadata: ${errorText(e)}`, true);
    }
  }

  private async runJson(): Promise<void> {
    const model = this.model;
    if (!model) return this.say('Pick a model first.', true);
    const text = this.body.value;
    try {
      JSON.parse(text);
    } catch (e) {
      return this.say(`The request is not valid JSON: ${errorText(e)}`, true);
    }
    const seq = ++this.sequence;
    const started = performance.now();
    this.say(`Running ${model}…`);
    this.response.classList.remove('error');
    try {
      const answer = await this.api.inferJson(model, text);
      if (seq !== this.sequence) return;
      setText(this.response, formatJson(answer));
      this.say(`${model} answered in ${Math.round(performance.now() - started)} ms.`);
    } catch (e) {
      if (seq !== this.sequence) return;
      this.response.classList.add('error');
      const status = e instanceof ApiError ? ` (HTTP ${e.status})` : '';
      setText(this.response, `Error${status}: ${errorText(e)}`);
      this.say(`${model} failed${status}.`, true);
    }
  }
}
