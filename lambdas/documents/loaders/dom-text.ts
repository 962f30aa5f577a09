import { hasChildren, isText, type AnyNode, type Element } from 'domhandler';

/** All the text under an element (HTML or XML), in order, without recursion: nesting is only capped by the parser. */
export const textOf = (element: Element): string => {
  const parts: string[] = [];
  const pending: AnyNode[] = [element];
  for (let node = pending.pop(); node; node = pending.pop()) {
    if (isText(node)) parts.push(node.data);
    else if (hasChildren(node))
      for (let index = node.children.length - 1; index >= 0; index--) pending.push(node.children[index] as AnyNode);
  }
  return parts.join('');
};
