/**
 * Typed errors for everything a caller can get wrong. Each has a stable `code` that the CLI,
 * the HTTP API (4xx JSON bodies) and the S3 tagger (status tag) report as is.
 */
export type ImageErrorCode = 'UnsupportedFormat' | 'CorruptImage' | 'ImageTooLarge' | 'InvalidArgument';

export class ImageError extends Error {
  readonly code: ImageErrorCode;
  constructor(code: ImageErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = code;
    this.code = code;
  }
}

export class UnsupportedFormatError extends ImageError {
  constructor(message: string) {
    super('UnsupportedFormat', message);
  }
}

export class CorruptImageError extends ImageError {
  constructor(message: string, cause?: unknown) {
    super('CorruptImage', message, { cause });
  }
}

export class ImageTooLargeError extends ImageError {
  constructor(message: string) {
    super('ImageTooLarge', message);
  }
}

export class InvalidArgumentError extends ImageError {
  constructor(message: string) {
    super('InvalidArgument', message);
  }
}

/** A model folder or configuration value that cannot be used; raised at init, names what is wrong. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}
