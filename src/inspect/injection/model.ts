// The optional model tier for prompt injection: a text-classification model (for example a
// DeBERTa prompt-injection classifier exported to ONNX) run with @huggingface/transformers from
// a local directory. It is loaded only when configured, and never downloads: remote models are
// switched off before anything loads, and a missing path is refused.

import { isAbsolute } from 'node:path';
import type { Detector, Finding } from '../types.js';

export interface ModelTierOptions {
  /** A local directory holding the model (config.json, tokenizer, onnx/model.onnx). */
  modelPath?: string;
  /** The classifier label that means injection (default "INJECTION"). */
  positiveLabel?: string;
  /** Longest text passed to the model at once, in characters; longer texts are windowed. */
  window?: number;
}

type Classifier = (text: string) => Promise<{ label: string; score: number }[]>;

export class ModelTierError extends Error {}

export class InjectionModel implements Detector {
  readonly name = 'injection' as const;

  private constructor(
    private readonly classify: Classifier,
    private readonly positive: string,
    private readonly window: number,
  ) {}

  /** Loads the model from its local path; throws when no path is configured or it cannot load. */
  static async load(
    o: ModelTierOptions,
    loadPipeline: (path: string) => Promise<Classifier> = transformersPipeline,
  ): Promise<InjectionModel> {
    if (!o.modelPath)
      throw new ModelTierError('the injection model tier needs a local model path (none given)');
    if (!isAbsolute(o.modelPath))
      throw new ModelTierError(`the injection model path must be absolute: ${o.modelPath}`);
    return new InjectionModel(
      await loadPipeline(o.modelPath),
      (o.positiveLabel ?? 'INJECTION').toUpperCase(),
      o.window ?? 2000,
    );
  }

  async detect(text: string): Promise<Finding[]> {
    const out: Finding[] = [];
    for (let start = 0; start < text.length; start += this.window) {
      const end = Math.min(text.length, start + this.window);
      const [top] = await this.classify(text.slice(start, end));
      if (top && top.label.toUpperCase() === this.positive)
        out.push({ detector: 'injection', type: 'model', start, end, score: top.score });
    }
    return out;
  }
}

/** @huggingface/transformers, local files only; an optional dependency, imported on demand. */
async function transformersPipeline(path: string): Promise<Classifier> {
  const name = '@huggingface/transformers';
  let mod: {
    env: { allowRemoteModels: boolean; allowLocalModels: boolean; localModelPath: string };
    pipeline: (task: string, model: string, o: object) => Promise<Classifier>;
  };
  try {
    mod = (await import(name)) as typeof mod;
  } catch {
    throw new ModelTierError(`the injection model tier needs ${name} installed (npm i ${name})`);
  }
  mod.env.allowRemoteModels = false;
  mod.env.allowLocalModels = true;
  try {
    return await mod.pipeline('text-classification', path, { local_files_only: true });
  } catch (e) {
    throw new ModelTierError(
      `the injection model at ${path} did not load: ${(e as Error).message}`,
    );
  }
}
