import { useEffect, useState } from "react";

/** A search field that reports its text after the user pauses typing (`delay` ms). */
export function SearchBox({
  value,
  onSearch,
  delay = 250,
  suggestions = [],
}: {
  value: string;
  onSearch: (q: string) => void;
  delay?: number;
  suggestions?: string[];
}) {
  const [text, setText] = useState(value);
  useEffect(() => setText(value), [value]);
  useEffect(() => {
    if (text === value) return;
    const timer = setTimeout(() => onSearch(text), delay);
    return () => clearTimeout(timer);
  }, [text, value, delay, onSearch]);
  return (
    <form
      role="search"
      onSubmit={(e) => {
        e.preventDefault();
        onSearch(text);
      }}
    >
      <label htmlFor="search">Search integrations</label>
      <input
        id="search"
        type="search"
        value={text}
        placeholder="Vendor, product or capability (typos are fine)"
        onChange={(e) => setText(e.target.value)}
        list="search-suggestions"
        autoComplete="off"
      />
      <datalist id="search-suggestions">
        {suggestions.map((s) => (
          <option key={s} value={s} />
        ))}
      </datalist>
    </form>
  );
}
