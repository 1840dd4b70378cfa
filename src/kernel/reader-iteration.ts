/**
 * The `for await` loop the buffer readers share: drain what is ready into a
 * batch, yield it, and only when nothing came wait for the kernel to signal
 * more, until the reader is closed.
 */

export interface WaitingReader {
  readonly closed: boolean;
  /** Resolves when data may be ready (or the reader was closed). */
  wait(): Promise<unknown>;
}

/** Yields what `fill` appends to the (emptied) batch each round, waiting on `reader` when a round brings nothing. */
export async function* readUntilClosed<T>(reader: WaitingReader, fill: (batch: T[]) => void): AsyncGenerator<T> {
  const batch: T[] = [];
  while (!reader.closed) {
    batch.length = 0;
    fill(batch);
    if (batch.length > 0) {
      for (const item of batch) yield item;
      continue;
    }
    await reader.wait();
  }
}
