/** The `___flavor` rule: `task_struct___v2` is a flavor of `task_struct`. */

/** Length of the essential part of a name (libbpf's X___Y rule, last separator). */
export function essentialNameLength(name: string): number {
  const n = name.length;
  for (let i = n - 5; i >= 0; i--) {
    if (name[i] !== '_' && name[i + 1] === '_' && name[i + 2] === '_' && name[i + 3] === '_' && name[i + 4] !== '_') return i + 1;
  }
  return n;
}

export const essentialName = (name: string): string => name.slice(0, essentialNameLength(name));
