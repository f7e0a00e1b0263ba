// Runs a task every `intervalMs` after the previous run ends (never two at
// once, so a slow server is not piled on), and not at all while the tab is
// hidden: a background tab would otherwise poll forever for nobody.
export class Poller {
  private timer: number | undefined;
  private running = false;
  private again = false;

  constructor(
    private readonly task: () => Promise<void>,
    private readonly intervalMs: number,
  ) {
    document.addEventListener('visibilitychange', () => {
      if (document.hidden) this.cancel();
      else this.now();
    });
  }

  start(): void {
    this.now();
  }

  // Run as soon as possible (after a row action, for instance).
  now(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.cancel();
    void this.run();
  }

  private cancel(): void {
    if (this.timer !== undefined) window.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async run(): Promise<void> {
    this.running = true;
    try {
      await this.task();
    } catch (e) {
      // A bug in one poll's rendering must not stop the polling for good.
      console.error(e);
    } finally {
      this.running = false;
    }
    if (this.again) {
      this.again = false;
      void this.run();
    } else if (!document.hidden) {
      this.timer = window.setTimeout(() => void this.run(), this.intervalMs);
    }
  }
}
