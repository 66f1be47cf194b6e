/** Parsed paths and templates for directives whose argument is itself computed per event. */
export class SmallCache<T> {
  private readonly entries = new Map<string, T>();
  get(key: string, make: () => T): T {
    let hit = this.entries.get(key);
    if (hit === undefined) {
      if (this.entries.size >= 256) this.entries.clear();
      hit = make();
      this.entries.set(key, hit);
    }
    return hit;
  }
}
