// The retained-message store's index, the other direction from TopicIndex: values stored by exact
// topic name, looked up by filter. A trie of topic levels; every walk uses an explicit stack,
// because topics may have thousands of levels.

/** Depth marker for nodes below a '#': every topic in their subtree matches. */
const SUBTREE = -1;

/** One topic level. A class, so every node has the same shape for V8. */
class TreeNode<V> {
  /** Children by level name ('' is a real level: "a//b" has three). */
  children: Map<string, TreeNode<V>> | undefined = undefined;
  /** The full topic name when a value is stored here; undefined otherwise (V itself may be undefined). */
  topic: string | undefined = undefined;
  value: V | undefined = undefined;
}

export class TopicTree<V> {
  private readonly root = new TreeNode<V>();
  private count = 0;

  /** Number of stored topics. */
  get size(): number {
    return this.count;
  }

  /** Number of trie nodes, root included; O(nodes). For tests and diagnostics: churn must not grow it. */
  get nodeCount(): number {
    let nodes = 0;
    const stack: TreeNode<V>[] = [this.root];
    for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
      nodes++;
      if (node.children !== undefined) for (const child of node.children.values()) stack.push(child);
    }
    return nodes;
  }

  /** Stores the value under the topic name; returns the previous value. */
  set(topic: string, value: V): V | undefined {
    const levels = topic.split('/');
    let node = this.root;
    for (let i = 0; i < levels.length; i++) {
      const children = (node.children ??= new Map());
      let child = children.get(levels[i]!);
      if (child === undefined) children.set(levels[i]!, (child = new TreeNode<V>()));
      node = child;
    }
    const previous = node.value;
    if (node.topic === undefined) {
      node.topic = topic;
      this.count++;
    }
    node.value = value;
    return previous;
  }

  get(topic: string): V | undefined {
    const levels = topic.split('/');
    let node: TreeNode<V> | undefined = this.root;
    for (let i = 0; i < levels.length && node !== undefined; i++) node = node.children?.get(levels[i]!);
    return node?.value;
  }

  /** Removes the topic and returns its value; nodes left empty are freed, so churn does not grow memory. */
  delete(topic: string): V | undefined {
    const levels = topic.split('/');
    // path[i] is the node reached after i levels, for pruning bottom-up without recursion.
    const path: TreeNode<V>[] = [this.root];
    let node = this.root;
    for (let i = 0; i < levels.length; i++) {
      const child = node.children?.get(levels[i]!);
      if (child === undefined) return undefined;
      path.push(child);
      node = child;
    }
    if (node.topic === undefined) return undefined;
    const previous = node.value;
    node.topic = undefined;
    node.value = undefined;
    this.count--;
    for (let i = levels.length; i > 0; i--) {
      const child = path[i]!;
      if (child.topic !== undefined || child.children !== undefined) break;
      const parent = path[i - 1]!;
      parent.children!.delete(levels[i - 1]!);
      if (parent.children!.size === 0) parent.children = undefined;
    }
    return previous;
  }

  /**
   * Calls visit for every stored topic the filter matches, in no particular order. The visitor may
   * delete topics (a deleted topic not yet visited is skipped); topics it sets may or may not be visited.
   */
  forEachMatch(filter: string, visit: (topic: string, value: V) => void): void {
    const levels = filter.split('/');
    const n = levels.length;
    // [MQTT-4.7.2-1] a filter starting with '#' or '+' does not match a topic starting with '$'.
    const skipDollar = levels[0] === '+' || levels[0] === '#';
    const nodes: TreeNode<V>[] = [this.root];
    // The filter level each node is to be matched against; SUBTREE: below a '#', everything matches.
    const depths: number[] = [0];
    while (nodes.length > 0) {
      const node = nodes.pop()!;
      const depth = depths.pop()!;
      if (depth === SUBTREE || depth === n) {
        if (node.topic !== undefined) visit(node.topic, node.value as V);
        if (depth === n || node.children === undefined) continue;
        for (const child of node.children.values()) {
          nodes.push(child);
          depths.push(SUBTREE);
        }
        continue;
      }
      const level = levels[depth]!;
      const children = node.children;
      if (level === '#' && depth === n - 1) {
        // [MQTT-4.7.1-2] '#' matches its parent level too: "sport/#" matches "sport".
        if (node.topic !== undefined) visit(node.topic, node.value as V);
        if (children === undefined) continue;
        for (const [name, child] of children) {
          if (depth === 0 && skipDollar && name.charCodeAt(0) === 0x24 /* '$' */) continue;
          nodes.push(child);
          depths.push(SUBTREE);
        }
      } else if (level === '+') {
        // [MQTT-4.7.1-3] '+' matches exactly one level, an empty one included.
        if (children === undefined) continue;
        for (const [name, child] of children) {
          if (depth === 0 && skipDollar && name.charCodeAt(0) === 0x24) continue;
          nodes.push(child);
          depths.push(depth + 1);
        }
      } else {
        const child = children?.get(level);
        if (child !== undefined) {
          nodes.push(child);
          depths.push(depth + 1);
        }
      }
    }
  }

  /** Every stored (topic, value), in no particular order. */
  *entries(): IterableIterator<[string, V]> {
    const stack: TreeNode<V>[] = [this.root];
    for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
      if (node.topic !== undefined) yield [node.topic, node.value as V];
      if (node.children !== undefined) for (const child of node.children.values()) stack.push(child);
    }
  }
}
